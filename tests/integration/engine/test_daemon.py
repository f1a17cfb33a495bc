"""coved itself: its sockets, TLS, configuration, and daemons side by side."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine_fixtures import COVED, DOCKER, busybox_layer_tar, private_engine
from tests.registry_fixtures import free_port, make_ca

__all__ = ["busybox_layer_tar"]


def test_unix_socket_is_root_only_and_the_exec_root_is_locked() -> None:
    with private_engine(None) as engine:
        st = os.stat(engine.socket)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_uid == 0
        # A second daemon on the same exec-root refuses to start.
        proc = subprocess.run(
            [str(COVED), "--root", str(engine.root), "--exec-root", str(engine.exec_root),
             "-H", f"unix://{engine.top}/other.sock",
             "--config-file", str(engine.top / "daemon.json")],
            capture_output=True, timeout=30, check=False)
        assert proc.returncode == 1
        assert b"another coved is running" in proc.stderr
        assert engine.request("GET", "/_ping")[0] == 200


def test_plain_tcp_is_refused_without_tls(tmp_path: Path) -> None:
    (tmp_path / "daemon.json").write_text("{}")
    proc = subprocess.run(
        [str(COVED), "--root", str(tmp_path / "r"), "--exec-root", str(tmp_path / "e"),
         "-H", f"tcp://127.0.0.1:{free_port()}", "--config-file", str(tmp_path / "daemon.json")],
        capture_output=True, timeout=30, check=False)
    assert proc.returncode == 1
    assert b"without --tlsverify" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_bad_daemon_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "daemon.json").write_text('{"log-opts": {"max-size": "1m"}, "bogus": 1}')
    proc = subprocess.run(
        [str(COVED), "--root", str(tmp_path / "r"), "--exec-root", str(tmp_path / "e"),
         "--config-file", str(tmp_path / "daemon.json")],
        capture_output=True, timeout=30, check=False)
    assert proc.returncode == 1
    assert b"unknown key 'bogus'" in proc.stderr


def test_mutual_tls_listener(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "certs")
    port = free_port()
    args = ["-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(ca.ca_cert),
            "--tlscert", str(ca.server_cert), "--tlskey", str(ca.server_key)]
    with private_engine(None, extra_args=args) as engine:
        env = dict(os.environ, DOCKER_CONFIG=str(tmp_path / "dc"))
        env.pop("DOCKER_HOST", None)
        good = subprocess.run(
            [DOCKER, "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
             "--tlscacert", str(ca.ca_cert), "--tlscert", str(ca.client_cert),
             "--tlskey", str(ca.client_key), "version", "--format", "{{.Server.Version}}"],
            capture_output=True, env=env, timeout=30, check=False)
        assert good.returncode == 0, good.stderr
        assert good.stdout.strip() == b"0.1.0"
        # No client certificate: the handshake is refused.
        bad = subprocess.run(
            [DOCKER, "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
             "--tlscacert", str(ca.ca_cert), "version", "--format", "{{.Server.Version}}"],
            capture_output=True, env=env, timeout=30, check=False)
        assert bad.returncode != 0
        assert engine.request("GET", "/_ping")[0] == 200


def test_two_daemons_side_by_side(busybox_layer_tar: bytes) -> None:
    with private_engine(busybox_layer_tar) as one, private_engine(busybox_layer_tar) as two:
        status, body = one.request("POST", "/containers/create?name=same",
                                   {"Image": "busybox", "Cmd": ["true"]})
        assert status == 201, body
        status, body = two.request("POST", "/containers/create?name=same",
                                   {"Image": "busybox", "Cmd": ["true"]})
        assert status == 201, body
        assert len(one.request("GET", "/containers/json?all=1")[1]) == 1
        assert len(two.request("GET", "/containers/json?all=1")[1]) == 1


def test_daemon_json_log_opts_are_the_default(busybox_layer_tar: bytes) -> None:
    conf = json.dumps({"log-opts": {"max-size": "16k", "max-file": "2"}})
    with private_engine(busybox_layer_tar, daemon_json=conf) as engine:
        status, body = engine.request(
            "POST", "/containers/create",
            {"Image": "busybox", "Cmd": ["sh", "-c", "while true; do echo " + "y" * 100 +
                                         "; done"]})
        assert status == 201
        cid = body["Id"]
        engine.request("POST", f"/containers/{cid}/start")
        time.sleep(2.5)
        engine.request("POST", f"/containers/{cid}/kill")
        # Rotation stops with the container; let one that was under way finish.
        engine.request("POST", f"/containers/{cid}/wait")
        time.sleep(0.5)
        log_path = Path(engine.request("GET", f"/containers/{cid}/json")[1]["LogPath"])
        names = sorted(p.name for p in log_path.parent.iterdir()
                       if p.name.startswith(log_path.name))
        # Rotated at least once, never more than max-file files. (A rotation caught by
        # the kill leaves no new live file: conmon ended before reopening it.)
        assert log_path.name + ".1" in names
        assert set(names) <= {log_path.name, log_path.name + ".1"}


@pytest.mark.parametrize("path", ["/v1.99/version", "/v1.12/version"])
def test_unsupported_api_versions(path: str) -> None:
    with private_engine(None) as engine:
        status, body = engine.request("GET", path)
        assert status == 400
        assert "API version" in body["message"]
