"""The prune filters: Docker's until formats and label semantics, and their errors."""

from __future__ import annotations

import pytest

from cove.engine import prune_filters as PF
from cove.errors import InvalidArgument

NOW = 1_700_000_000.0


@pytest.mark.parametrize(("text", "seconds"), [
    ("24h", 86400.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("90s", 90.0),
    ("300ms", 0.3), ("2h45m10s", 9910.0), ("0", 0.0), ("-5m", -300.0), ("10us", 1e-5),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert PF.parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "h", "10", "10x", "1h 30m", "banana", "1d"])
def test_not_go_durations(text: str) -> None:
    assert PF.parse_go_duration(text) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("24h", NOW - 86400),
    ("1700000000", 1_700_000_000.0),
    ("1699999999.5", 1_699_999_999.5),
    ("2023-11-14T22:13:20Z", 1_700_000_000.0),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
    ("2023-11-14T22:13:20.25Z", 1_700_000_000.25),
    ("2023-11-14", 1_699_920_000.0),
    ("2023-11-14 22:13:20", 1_700_000_000.0),
])
def test_timestamps(value: str, expected: float) -> None:
    assert PF.parse_timestamp(value, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["banana", "10x", "", "2023-13-45", "1d"])
def test_bad_until_names_the_value(value: str) -> None:
    with pytest.raises(InvalidArgument, match=f"until={value}'"):
        PF.parse({"until": [value]})


def test_unknown_key_refused() -> None:
    with pytest.raises(InvalidArgument, match="invalid filter 'dangling'"):
        PF.parse({"dangling": ["true"]})
    with pytest.raises(InvalidArgument, match="label key is empty"):
        PF.parse({"label!": ["=v"]})


def test_label_semantics() -> None:
    labels = {"team": "a", "tier": "db"}
    assert PF.parse({"label": ["team"]}).matches(labels)
    assert PF.parse({"label": ["team=a", "tier"]}).matches(labels)
    assert not PF.parse({"label": ["team=b"]}).matches(labels)
    assert not PF.parse({"label": ["team", "owner"]}).matches(labels)
    # label!: left out only when every expression matches (moby's MatchKVList).
    assert not PF.parse({"label!": ["team"]}).matches(labels)
    assert PF.parse({"label!": ["team=b"]}).matches(labels)
    assert PF.parse({"label!": ["team", "owner"]}).matches(labels)
    assert not PF.parse({"label!": ["team=a", "tier=db"]}).matches(labels)
    assert PF.parse({"label!": ["team"]}).matches({})


def test_until_keeps_what_is_newer() -> None:
    f = PF.parse({"until": ["1h"]}, now=NOW)
    assert f.matches({}, created=NOW - 7200)
    assert not f.matches({}, created=NOW - 60)
    assert f.matches({}, created=NOW - 3600)  # at the limit: goes (moby: Created.After)


def test_protect_label() -> None:
    assert PF.is_protected({"cove.prune.protect": "true"})
    assert PF.is_protected({"cove.prune.protect": "TRUE"})
    assert not PF.is_protected({"cove.prune.protect": "false"})
    assert not PF.is_protected(None)


def test_bool_filter() -> None:
    assert PF.bool_filter({"dangling": ["false"]}, "dangling") is False
    assert PF.bool_filter({}, "dangling") is None
    with pytest.raises(InvalidArgument, match="dangling=maybe"):
        PF.bool_filter({"dangling": ["maybe"]}, "dangling")
