"""Docker's image filter maps parsed into ImageFilters; times as docker reads them."""

from __future__ import annotations

import time

import pytest

from cove.errors import InvalidArgument
from cove.images.filters import PRUNE_KEYS, image_filters, parse_time_ns, until_seconds
from cove.metadata import ImageFilters


def test_filter_map() -> None:
    f = image_filters({"dangling": ["true"], "label": ["a=b"], "label!": ["c"],
                       "reference": ["busy*"], "before": ["x:1", "y:2"], "since": ["z"],
                       "until": ["10m"]})
    assert f == ImageFilters(dangling=True, labels=("a=b",), references=("busy*",),
                             not_labels=("c",), before="y:2", since="z", until=("10m",))
    assert image_filters(None) == ImageFilters()
    assert image_filters({"dangling": ["0"]}).dangling is False
    with pytest.raises(InvalidArgument, match="invalid filter 'dangling=maybe'"):
        image_filters({"dangling": ["maybe"]})
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        image_filters({"colour": ["red"]})
    with pytest.raises(InvalidArgument, match="invalid filter 'before'"):
        image_filters({"before": ["x"]}, PRUNE_KEYS)
    with pytest.raises(InvalidArgument, match="until=soon"):
        image_filters({"until": ["soon"]})


def test_times() -> None:
    assert parse_time_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_time_ns("2024-01-02T03:04:05.123456789+00:00") % 1_000_000_000 == 123456789
    assert parse_time_ns("2024-01-02T03:04:05Z") == 1704164645 * 10**9
    assert parse_time_ns("garbage") == 0 and parse_time_ns(None) == 0
    assert until_seconds("1700000000") == 1700000000.0
    assert abs(until_seconds("1h") - (time.time() - 3600)) < 5
    assert until_seconds("2024-01-02T03:04:05Z") == 1704164645.0
