"""Docker's image filters (``GET /images/json?filters=...``, ``image prune``) as ImageFilters.

The Engine API sends filters as ``{"key": ["value", ...]}`` (old clients:
``{"key": {"value": true}}``, which the API layer flattens first).  Keys docker
accepts for a list: ``dangling``, ``label``, ``label!``, ``before``, ``since``,
``reference``, ``until``; any other is ``invalid filter 'key'``, as docker says.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping, Sequence

from cove.errors import InvalidArgument
from cove.metadata import ImageFilters

LIST_KEYS = ("before", "dangling", "label", "label!", "reference", "since", "until")
PRUNE_KEYS = ("label", "label!", "until")


def parse_time_ns(value: str | None) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (0 when absent or unreadable)."""
    if not value:
        return 0
    text = value.strip().replace("Z", "+00:00")
    frac = 0
    if "." in text:  # fromisoformat takes at most microseconds: keep the rest apart
        head, _, rest = text.partition(".")
        n = 0
        while n < len(rest) and rest[n].isdigit():
            n += 1
        digits = rest[:n]
        frac = int((digits + "000000000")[:9]) if digits else 0
        text = head + rest[n:]
    try:
        t = datetime.datetime.fromisoformat(text)
    except ValueError:
        return 0
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    return int(t.timestamp()) * 1_000_000_000 + frac


def until_seconds(value: str) -> float:
    """``until``: seconds since the epoch, an RFC 3339 time, or a duration ago (10m, 2h)."""
    text = value.strip()
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        try:
            return time.time() - float(text[:-1]) * units[text[-1]]
        except ValueError:
            pass
    try:
        return float(text)
    except ValueError:
        pass
    ns = parse_time_ns(text)
    if ns == 0:
        raise InvalidArgument(f"invalid filter 'until={value}'")
    return ns / 1e9


def _bool(key: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid filter '{key}={value}'")


def image_filters(filters: Mapping[str, Sequence[str]] | None,
                  accepted: Sequence[str] = LIST_KEYS) -> ImageFilters:
    """The ImageFilters for docker's filter map; unknown keys are refused."""
    filters = filters or {}
    for key in sorted(filters):
        if key not in accepted:
            raise InvalidArgument(f"invalid filter '{key}'")
    dangling = None
    for value in filters.get("dangling", ()):
        dangling = _bool("dangling", value)
    for value in filters.get("until", ()):
        until_seconds(value)  # refused now rather than half-way through a prune
    before = list(filters.get("before", ()))
    since = list(filters.get("since", ()))
    return ImageFilters(
        dangling=dangling,
        labels=tuple(filters.get("label", ())),
        references=tuple(filters.get("reference", ())),
        not_labels=tuple(filters.get("label!", ())),
        before=before[-1] if before else None,  # docker: the last one given wins
        since=since[-1] if since else None,
        until=tuple(filters.get("until", ())),
    )


__all__ = ["LIST_KEYS", "PRUNE_KEYS", "image_filters", "parse_time_ns", "until_seconds"]
