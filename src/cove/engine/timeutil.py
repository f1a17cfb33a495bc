"""RFC 3339 timestamps (with nanoseconds) and Docker's duration strings."""

from __future__ import annotations

import calendar
import re
import time

from cove.errors import InvalidArgument

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch; a missing zone means UTC. Also accepts a plain date."""
    m = _RFC3339.match(value.strip())
    if m is None:
        if re.match(r"^\d{4}-\d{2}-\d{2}$", value.strip()):
            return float(calendar.timegm(time.strptime(value.strip(), "%Y-%m-%d")))
        raise InvalidArgument(f"invalid timestamp {value!r}: want RFC 3339 or unix seconds")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    seconds = float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
    if m.group(7):
        seconds += float("0" + m.group(7))
    zone = m.group(8)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


def format_rfc3339_ns(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + \
        f".{ns % 1_000_000_000:09d}Z"


def parse_duration_ns(value: str) -> int:
    """Go's time.ParseDuration for the units Docker users write: 1h30m, 10s, 500ms."""
    text = value.strip()
    if text in ("0", ""):
        return 0
    pos = 0
    total = 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise InvalidArgument(f"invalid duration {value!r}")
    return int(total)


def parse_since(value: str, now: float | None = None) -> float:
    """Docker's --since/--until/until= value: a duration ago, unix seconds, or RFC 3339."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if _DURATION.match(text):
        try:
            return (now if now is not None else time.time()) - parse_duration_ns(text) / 1e9
        except InvalidArgument:
            pass
    return parse_rfc3339(text)
