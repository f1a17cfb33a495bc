"""Filters of ``volume ls`` (dangling, label, name, driver) and ``volume prune``
(label, label!, all), in the Engine API's ``{"key": ["value", ...]}`` form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cove.engine.volumes.model import Volume
from cove.errors import InvalidArgument

Filters = Mapping[str, Sequence[str]]
LIST_KEYS = frozenset({"dangling", "label", "name", "driver"})
PRUNE_KEYS = frozenset({"label", "label!", "all"})


def check(filters: Filters, allowed: frozenset[str]) -> None:
    for key, values in filters.items():
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        for value in values:
            if key in ("dangling", "all") and _boolean(key, value) is None:
                raise InvalidArgument(f"invalid filter '{key}={value}'")


def _boolean(key: str, value: str) -> bool | None:
    return {"true": True, "1": True, "false": False, "0": False}.get(value.lower())


def flag(filters: Filters, key: str) -> bool:
    """A boolean filter (``all``); several values must all agree."""
    return any(_boolean(key, v) for v in filters.get(key, ()))


def _label_matches(labels: Mapping[str, str], expr: str) -> bool:
    key, eq, value = expr.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def matches(volume: Volume, filters: Filters, *, in_use: bool) -> bool:
    for value in filters.get("dangling", ()):
        if _boolean("dangling", value) == in_use:
            return False
    if any(not _label_matches(volume.labels, e) for e in filters.get("label", ())):
        return False
    if any(_label_matches(volume.labels, e) for e in filters.get("label!", ())):
        return False
    names = filters.get("name", ())
    if names and not any(n in volume.name for n in names):
        return False
    drivers = filters.get("driver", ())
    return not drivers or volume.driver in drivers
