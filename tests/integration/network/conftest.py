"""Fixtures shared by the network library tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cove.linux.netns import create_netns, remove_netns
from tests.cni_fixtures import new_cni_chains_removed


@pytest.fixture(scope="session", autouse=True)
def _cni_chains_removed() -> Iterator[None]:
    with new_cni_chains_removed():
        yield


@pytest.fixture
def make_netns(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """make_netns() -> the path of a new network namespace, removed after the test."""
    made: list[str] = []

    def make() -> str:
        path = str(tmp_path / "netns" / f"cvnl-{uuid.uuid4().hex[:6]}")
        made.append(path)
        create_netns(path)
        return path

    try:
        yield make
    finally:
        for path in made:
            remove_netns(path)
