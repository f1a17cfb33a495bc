"""The filters every prune takes (``until``, ``label``, ``label!``), with Docker's meanings.

``until`` is a Go duration ago (``24h``, ``1h30m``, ``90s``), an RFC 3339 time (also a bare
date or a time without a zone, read as UTC) or unix seconds (``1700000000.5``); objects
created after it stay.  ``label=k`` / ``label=k=v`` must all match; ``label!=k`` /
``label!=k=v`` leave an object out when every one of them matches (moby's MatchKVList).
Unknown keys and unreadable values are refused before anything is removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cove.engine.timeutil import parse_go_duration, parse_timestamp
from cove.errors import InvalidArgument

Filters = Mapping[str, Sequence[str]]

PROTECT_LABEL = "cove.prune.protect"
COMMON_KEYS = frozenset({"until", "label", "label!"})

def _label_matches(labels: Mapping[str, str], expr: str) -> bool:
    key, eq, value = expr.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def is_protected(labels: Mapping[str, str] | None) -> bool:
    """``cove.prune.protect=true``: no prune removes it, whatever its filters."""
    return (labels or {}).get(PROTECT_LABEL, "").strip().lower() == "true"


@dataclass(frozen=True)
class PruneFilter:
    """A parsed filter map: ``matches(labels, created)`` says whether an object may go."""

    until: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    not_labels: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str] | None, created: float | None = None) -> bool:
        labels = labels or {}
        if created is not None and any(created > u for u in self.until):
            return False
        if not all(_label_matches(labels, e) for e in self.labels):
            return False
        return not (self.not_labels
                    and all(_label_matches(labels, e) for e in self.not_labels))


def parse(filters: Filters | None, allowed: frozenset[str] = COMMON_KEYS,
          now: float | None = None) -> PruneFilter:
    """Check ``filters`` (keys in ``allowed``) and parse the common ones."""
    filters = filters or {}
    for key in sorted(filters):
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
    for key in ("label", "label!"):
        for expr in filters.get(key, ()):
            if not expr or expr.startswith("="):
                raise InvalidArgument(f"invalid filter '{key}={expr}': the label key is empty")
    until = tuple(parse_timestamp(v, now) for v in filters.get("until", ()))
    return PruneFilter(until=until, labels=tuple(filters.get("label", ())),
                       not_labels=tuple(filters.get("label!", ())))


def without(filters: Filters | None, *keys: str) -> dict[str, list[str]]:
    """``filters`` less ``keys`` (those a caller handles itself)."""
    return {k: list(v) for k, v in (filters or {}).items() if k not in keys}


def bool_filter(filters: Filters | None, key: str) -> bool | None:
    """A boolean filter (``dangling``, ``all``): None when absent; refused when unreadable."""
    result: bool | None = None
    for value in (filters or {}).get(key, ()):
        v = value.strip().lower()
        if v in ("true", "1"):
            result = True
        elif v in ("false", "0"):
            result = False
        else:
            raise InvalidArgument(f"invalid filter '{key}={value}'")
    return result


__all__ = ["COMMON_KEYS", "PROTECT_LABEL", "PruneFilter", "bool_filter", "is_protected",
           "parse", "parse_go_duration", "parse_timestamp", "without"]
