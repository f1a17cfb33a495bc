"""Docker's since/until values: Go durations, unix seconds, RFC 3339; the words of errors."""

from __future__ import annotations

import pytest

from cove.engine.timeutil import parse_since, parse_timestamp
from cove.errors import InvalidArgument

NOW = 1_700_000_000.0


@pytest.mark.parametrize(("text", "want"), [
    ("1h", NOW - 3600), ("-30m", NOW + 1800), ("1h30m", NOW - 5400),
    ("1700000000", 1_700_000_000.0), ("1700000000.5", 1_700_000_000.5),
    ("2023-11-14T22:13:20Z", 1_700_000_000.0), ("2023-11-14", 1_699_920_000.0),
])
def test_values(text: str, want: float) -> None:
    assert parse_timestamp(text, NOW) == pytest.approx(want)


def test_zero_is_the_epoch_for_events_only() -> None:
    assert parse_since("0", NOW) == 0.0
    assert parse_timestamp("0", NOW) == NOW  # elsewhere a zero duration: now


def test_errors_name_the_filter_or_the_parameter() -> None:
    with pytest.raises(InvalidArgument, match="invalid filter 'until=soon'"):
        parse_timestamp("soon", NOW)
    with pytest.raises(InvalidArgument, match='invalid value for "since": "soon"'):
        parse_since("soon", NOW)
