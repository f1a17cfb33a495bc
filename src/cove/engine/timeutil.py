"""RFC 3339 timestamps (with nanoseconds), Go durations, and Docker's since/until values."""

from __future__ import annotations

import calendar
import datetime
import re
import time

from cove.errors import InvalidArgument

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$")


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


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIX_SECONDS = re.compile(r"-?\d+(?:\.\d+)?")


def parse_go_duration(text: str) -> float | None:
    """Seconds of a Go duration (``1h30m``, ``-5m``, ``0``), None when it is not one."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        return None
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            return None
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def parse_timestamp(value: str, now: float | None = None, *, name: str = "until") -> float:
    """Unix seconds of an ``until``/``since`` value, as Docker's GetTimestamp reads it:
    a Go duration ago, unix seconds, or an RFC 3339 time (a bare date, or no zone: UTC).
    ``name`` is the filter or parameter the value came in, for the error."""
    text = value.strip()
    now = time.time() if now is None else now
    duration = parse_go_duration(text) if text else None
    if duration is not None:
        return now - duration
    if _UNIX_SECONDS.fullmatch(text):
        return float(text)
    iso = text.replace("Z", "+00:00").replace("z", "+00:00")
    if "T" not in iso and len(iso) > 10 and iso[10] == " ":
        iso = iso[:10] + "T" + iso[11:]
    try:
        t = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise InvalidArgument(f"invalid filter '{name}={value}': not a duration, RFC 3339 "
                              "time or unix timestamp") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    return t.timestamp()


def parse_since(value: str, now: float | None = None, *, name: str = "since") -> float:
    """/events' since/until: :func:`parse_timestamp`, except that "0" is the epoch
    (Docker's GetTimestamp does not read "0" as a duration there)."""
    if value.strip() == "0":
        return 0.0
    try:
        return parse_timestamp(value, now, name=name)
    except InvalidArgument:
        # A query parameter, not a filter: said in those words.
        raise InvalidArgument(f'invalid value for "{name}": "{value}" is not a duration, '
                              "an RFC 3339 time or a unix timestamp") from None
