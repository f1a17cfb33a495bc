"""Fixtures shared by the network library tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cni_fixtures import new_cni_chains_removed


@pytest.fixture(scope="session", autouse=True)
def _cni_chains_removed() -> Iterator[None]:
    with new_cni_chains_removed():
        yield
