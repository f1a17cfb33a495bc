"""Fixtures for the engine's networking tests: a daemon, and cleanup of networks."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.cni_fixtures import new_cni_chains_removed
from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]


@pytest.fixture(scope="session", autouse=True)
def _cni_chains_removed() -> Iterator[None]:
    with new_cni_chains_removed():
        yield


@pytest.fixture(name="net")
def net_fixture(engine: Engine) -> Iterator[Engine]:
    """The engine; every container, then every custom network, removed after the test."""
    try:
        yield engine
    finally:
        engine.remove_all_containers()
        status, nets = engine.request("GET", "/networks")
        if status == 200:
            for n in nets:
                if n["Name"] not in ("bridge", "host", "none"):
                    engine.request("DELETE", f"/networks/{n['Id']}")


def docker(engine: Engine, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = engine.docker(*args, timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))


def ok(engine: Engine, *args: str, timeout: float = 60) -> str:
    proc = docker(engine, *args, timeout=timeout)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}
