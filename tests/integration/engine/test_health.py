"""Health checks: Config.Healthcheck probed by exec, through the API, the CLI and the SDK."""

from __future__ import annotations

import json
import time
from typing import Any

import docker

from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]

MS = 1_000_000  # Healthcheck durations are nanoseconds


def _run(engine: Engine, healthcheck: dict[str, Any] | None, name: str | None = None,
         cmd: list[str] | None = None) -> str:
    body: dict[str, Any] = {"Image": "busybox", "Cmd": cmd or ["sleep", "600"]}
    if healthcheck is not None:
        body["Healthcheck"] = healthcheck
    status, out = engine.request("POST", "/containers/create" + (f"?name={name}" if name
                                                                  else ""), body)
    assert status == 201, out
    cid = str(out["Id"])
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    return cid


def _health(engine: Engine, cid: str) -> dict[str, Any] | None:
    status, info = engine.request("GET", f"/containers/{cid}/json")
    assert status == 200, info
    health: dict[str, Any] | None = info["State"].get("Health")
    return health


def _wait_status(engine: Engine, cid: str, want: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        health = _health(engine, cid)
        assert health is not None
        if health["Status"] == want:
            return health
        assert time.monotonic() < deadline, f"still {health} waiting for {want}"
        time.sleep(0.1)


def _events(engine: Engine, since: float, cid: str) -> list[str]:
    until = time.time()
    status, raw = engine.request(
        "GET", f"/events?since={since:.3f}&until={until:.3f}")
    assert status == 200
    text = raw.decode() if isinstance(raw, bytes) else json.dumps(raw)
    actions = []
    for line in text.splitlines():
        if line.strip():
            event = json.loads(line)
            if event.get("Actor", {}).get("ID") == cid:
                actions.append(event["Action"])
    return actions


def test_unhealthy_then_healthy_with_log_and_events(engine: Engine) -> None:
    since = time.time()
    cid = _run(engine, {"Test": ["CMD-SHELL", "test -f /tmp/ok && echo fine || "
                                 "{ echo missing; exit 1; }"],
                        "Interval": 150 * MS, "Timeout": 2000 * MS, "Retries": 2})
    health = _health(engine, cid)
    assert health is not None and health["Status"] == "starting"
    health = _wait_status(engine, cid, "unhealthy")
    assert health["FailingStreak"] >= 2
    entry = health["Log"][-1]
    assert entry["ExitCode"] == 1
    assert entry["Output"] == "missing\n"
    assert entry["Start"] <= entry["End"]
    # The container reports it in ps.
    status, items = engine.request("GET", "/containers/json?filters=%7B%22health%22%3A%5B"
                                          "%22unhealthy%22%5D%7D")
    assert [i["Id"] for i in items] == [cid]
    r = engine.docker("exec", cid, "touch", "/tmp/ok")
    assert r.returncode == 0, r
    health = _wait_status(engine, cid, "healthy")
    assert health["FailingStreak"] == 0
    assert health["Log"][-1]["ExitCode"] == 0
    assert health["Log"][-1]["Output"] == "fine\n"
    # Only the last five results are kept.
    time.sleep(1.2)
    assert len(_health(engine, cid)["Log"]) == 5  # type: ignore[index]
    actions = _events(engine, since, cid)
    assert "health_status: unhealthy" in actions
    assert "health_status: healthy" in actions
    # A status is announced when it changes, not at each probe.
    assert actions.count("health_status: healthy") == 1


def test_timeout_is_exit_minus_one(engine: Engine) -> None:
    cid = _run(engine, {"Test": ["CMD", "sleep", "5"], "Interval": 100 * MS,
                        "Timeout": 300 * MS, "Retries": 1})
    health = _wait_status(engine, cid, "unhealthy")
    entry = health["Log"][-1]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == "Health check exceeded timeout (300ms)"
    # The probe was killed: no sleep 5 is left behind in the container.
    status, procs = engine.request("GET", f"/containers/{cid}/top?ps_args=-eo%20pid,args")
    assert status == 200
    assert not [p for p in procs["Processes"] if p[-1] == "sleep 5"], procs


def test_start_period_ignores_failures(engine: Engine) -> None:
    cid = _run(engine, {"Test": ["CMD", "false"], "Interval": 100 * MS,
                        "StartPeriod": 3000 * MS, "StartInterval": 100 * MS, "Retries": 1})
    time.sleep(1.0)
    health = _health(engine, cid)
    assert health is not None
    assert health["Status"] == "starting"
    assert health["FailingStreak"] == 0
    assert health["Log"] and health["Log"][-1]["ExitCode"] == 1
    _wait_status(engine, cid, "unhealthy", timeout=10)


def test_none_and_missing_command(engine: Engine) -> None:
    cid = _run(engine, {"Test": ["NONE"]})
    assert _health(engine, cid) is None
    cid = _run(engine, {"Test": ["CMD", "nosuchprobe"], "Interval": 100 * MS,
                        "Retries": 1})
    health = _wait_status(engine, cid, "unhealthy")
    assert health["Log"][-1]["ExitCode"] == 127
    assert "executable file not found" in health["Log"][-1]["Output"]


def test_health_survives_a_daemon_restart(engine: Engine) -> None:
    cid = _run(engine, {"Test": ["CMD", "true"], "Interval": 150 * MS})
    _wait_status(engine, cid, "healthy")
    engine.stop()
    engine.start()
    health = _health(engine, cid)
    assert health is not None and health["Status"] == "healthy"
    last = health["Log"][-1]["End"]
    deadline = time.monotonic() + 10
    # Probes go on under the new daemon.
    while _health(engine, cid)["Log"][-1]["End"] == last:  # type: ignore[index]
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_docker_cli_health_flags(engine: Engine) -> None:
    r = engine.docker("run", "-d", "--name", "hc-cli", "--health-cmd", "exit 0",
                      "--health-interval", "200ms", "--health-retries", "1", "busybox",
                      "sleep", "600")
    assert r.returncode == 0, r
    deadline = time.monotonic() + 15
    while True:
        r = engine.docker("inspect", "--format", "{{.State.Health.Status}}", "hc-cli")
        if r.stdout.strip() == b"healthy":
            break
        assert time.monotonic() < deadline, r
        time.sleep(0.1)
    r = engine.docker("ps", "--format", "{{.Status}}", "--filter", "name=hc-cli")
    assert b"(healthy)" in r.stdout, r
    r = engine.docker("run", "-d", "--name", "hc-none", "--no-healthcheck", "busybox",
                      "sleep", "600")
    assert r.returncode == 0, r
    r = engine.docker("inspect", "--format", "{{json .State.Health}}", "hc-none")
    assert r.stdout.strip() == b"null", r


def test_sdk_healthcheck(engine: Engine) -> None:
    client = docker.DockerClient(base_url=engine.host, version="1.47")
    try:
        container = client.containers.run(
            "busybox", ["sleep", "600"], detach=True,
            healthcheck={"test": ["CMD-SHELL", "exit 1"], "interval": 100 * MS,
                         "retries": 1})
        deadline = time.monotonic() + 15
        while True:
            container.reload()
            if container.attrs["State"]["Health"]["Status"] == "unhealthy":
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert container.health == "unhealthy"
    finally:
        client.close()


# -- pure parsing (no daemon) ---------------------------------------------------------------

def test_parse_healthcheck_defaults_and_forms() -> None:
    from cove.engine.health import parse_healthcheck

    cfg = parse_healthcheck({"Test": ["CMD-SHELL", "curl -f x || exit 1"]})
    assert cfg is not None
    assert cfg.argv == ["/bin/sh", "-c", "curl -f x || exit 1"]
    assert (cfg.interval, cfg.timeout, cfg.start_period, cfg.retries) == (30.0, 30.0, 0.0, 3)
    assert cfg.start_interval == 5.0
    cfg = parse_healthcheck({"Test": ["CMD", "true", "x"], "Interval": 2 * 10**9,
                             "Timeout": 500 * MS, "Retries": 7, "StartPeriod": 10**9})
    assert cfg is not None and cfg.argv == ["true", "x"]
    assert (cfg.interval, cfg.timeout, cfg.start_period, cfg.retries) == (2.0, 0.5, 1.0, 7)
    for none in (None, {}, {"Test": []}, {"Test": ["NONE"]}, {"Test": ["CMD"]},
                 {"Test": ["BOGUS", "x"]}, {"Test": [1]}):
        assert parse_healthcheck(none) is None, none  # type: ignore[arg-type]
    # Bad numbers fall back to the defaults rather than spinning or crashing.
    cfg = parse_healthcheck({"Test": ["CMD", "true"], "Interval": -5, "Retries": True})
    assert cfg is not None and cfg.interval == 30.0 and cfg.retries == 3


def test_timeout_text_is_gos_duration() -> None:
    from cove.engine.health import _duration_text

    assert _duration_text(30.0) == "30s"
    assert _duration_text(0.3) == "300ms"
    assert _duration_text(90.0) == "1m30s"
    assert _duration_text(1.5) == "1.5s"
