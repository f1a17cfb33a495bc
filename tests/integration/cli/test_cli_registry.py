"""``cove login/push/pull`` through coved to a local docker-registry on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture
from tests.registry_fixtures import (
    REGISTRY_USERS,
    Registry,
    auth_registry_fixture,
    needs_registry,
    registry_fixture,
)

__all__ = ["auth_registry_fixture", "busybox_layer_tar", "coved_fixture", "engine_fixture",
           "registry_fixture"]

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="coved needs root"),
              needs_registry]


def ok(engine: Engine, *args: str, input: bytes | None = None) -> str:
    r = engine.cove(*args, input=input, timeout=120)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout.decode()


def test_push_then_pull(engine: Engine, registry: Registry) -> None:
    ref = f"{registry.host}/team/bb:1"
    ok(engine, "tag", "busybox", ref)
    lines = ok(engine, "push", ref).splitlines()
    # not a terminal: one plain line per status change, no progress bars
    assert lines[0] == f"The push refers to repository [{registry.host}/team/bb]"
    assert any(line.endswith(": Pushed") for line in lines)
    assert lines[-1].startswith("1: digest: sha256:")
    assert not any("[=" in line for line in lines)
    ok(engine, "rmi", ref)
    out = ok(engine, "pull", ref)
    lines = out.splitlines()
    assert lines[-1] == ref
    assert any(line.startswith("Status: ") for line in lines)
    assert ref in ok(engine, "images", "--format", "{{.Repository}}:{{.Tag}}")
    r = engine.cove("pull", f"{registry.host}/team/missing:1", timeout=120)
    assert r.returncode == 1 and r.stderr


def test_run_pulls_a_missing_image(engine: Engine, registry: Registry) -> None:
    ref = f"{registry.host}/team/runme:2"
    ok(engine, "tag", "busybox", ref)
    ok(engine, "push", "-q", ref)
    ok(engine, "rmi", ref)
    r = engine.cove("run", "--rm", ref, "echo", "pulled and ran", timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"pulled and ran\n"
    assert f"Unable to find image '{ref}' locally".encode() in r.stderr


def test_login_push_pull_with_credentials(engine: Engine, auth_registry: Registry,
                                          tmp_path: Path) -> None:
    host = auth_registry.host
    ref = f"{host}/private/bb:1"
    ok(engine, "tag", "busybox", ref)
    r = engine.cove("push", ref, timeout=120)
    assert r.returncode != 0  # not logged in yet
    r = engine.cove("login", "-u", "alice", "--password-stdin", host, input=b"wrong\n")
    assert r.returncode == 1 and r.stderr.startswith(b"Error response from daemon: ")
    (user, password), = REGISTRY_USERS.items()
    out = ok(engine, "login", "-u", user, "--password-stdin", host, input=password.encode())
    assert out == "Login Succeeded\n"
    config = Path(engine.env()["DOCKER_CONFIG"]) / "config.json"
    assert config.stat().st_mode & 0o777 == 0o600
    auth = json.loads(config.read_text())["auths"][host]["auth"]
    assert base64.b64decode(auth).decode() == f"{user}:{password}"
    ok(engine, "push", ref)
    ok(engine, "rmi", ref)
    ok(engine, "pull", "-q", ref)
    assert ok(engine, "logout", host) == f"Removing login credentials for {host}\n"
    assert host not in json.loads(config.read_text())["auths"]


def test_pull_on_a_terminal_redraws_layer_lines(engine: Engine, registry: Registry) -> None:
    ref = f"{registry.host}/team/tty:1"
    ok(engine, "tag", "busybox", ref)
    ok(engine, "push", "-q", ref)
    # with every name of the image gone its layer is collected: the pull downloads it
    image_id = ok(engine, "image", "inspect", "-f", "{{.Id}}", "busybox").strip()
    ok(engine, "rmi", "-f", image_id)
    try:
        text = _pull_on_pty(engine, ref)
    finally:
        engine.cove("tag", ref, "busybox:latest")
    # a layer's line is rewritten in place: cursor up, clear line, "<id>: <status>"
    assert "\x1b[2K\r" in text and "A\x1b[2K\r" in text
    assert "Pull complete" in text
    assert text.rstrip().endswith(ref)
    assert ok(engine, "run", "--rm", "busybox", "echo", "restored") == "restored\n"


def _pull_on_pty(engine: Engine, ref: str) -> str:
    import pty
    import select
    import subprocess
    import time

    from tests.engine_fixtures import COVE

    master, slave = pty.openpty()
    proc = subprocess.Popen([str(COVE), "-H", engine.host, "pull", ref], stdin=slave,
                            stdout=slave, stderr=slave, env=engine.env(),
                            start_new_session=True)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None or select.select([master], [], [], 0.1)[0]:
            assert time.monotonic() < deadline
            if select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return out.decode(errors="replace")


def test_pull_output_matches_docker(engine: Engine, registry: Registry) -> None:
    from tests.engine_fixtures import DOCKER

    if not os.path.exists(DOCKER):
        pytest.skip("no docker CLI")
    ref = f"{registry.host}/team/same:1"
    ok(engine, "tag", "busybox", ref)
    ok(engine, "push", "-q", ref)
    for args in (["pull", ref], ["pull", "-q", ref],
                 ["pull", ref.removesuffix(":1") + ":latest"]):
        outputs = []
        for tool in (engine.docker, engine.cove):
            engine.cove("rmi", ref)
            r = tool(*args)
            outputs.append((r.returncode, r.stdout, r.stderr.replace(b"docker", b"cove")))
        assert outputs[1] == outputs[0], args


def test_push_output_matches_docker(engine: Engine, registry: Registry) -> None:
    from tests.engine_fixtures import DOCKER

    if not os.path.exists(DOCKER):
        pytest.skip("no docker CLI")
    ref = f"{registry.host}/team/pushed:1"
    ok(engine, "tag", "busybox", ref)
    ok(engine, "push", "-q", ref)  # from now on every push finds its layers there
    outputs = []
    for tool in (engine.docker, engine.cove):
        r = tool("push", ref)
        outputs.append((r.returncode, r.stdout, r.stderr))
    assert outputs[0][0] == 0 and b"Layer already exists" in outputs[0][1]
    assert outputs[1] == outputs[0]
