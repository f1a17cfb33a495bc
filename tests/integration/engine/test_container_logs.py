"""Logs: rotation bounds, reading across rotated files, follow, and crash leftovers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]


def _create(engine: Engine, cmd: list[str], **extra: object) -> str:
    status, body = engine.request("POST", "/containers/create",
                                  {"Image": "busybox", "Cmd": cmd, **extra})
    assert status == 201, body
    return str(body["Id"])


def _frames(raw: bytes) -> list[tuple[int, bytes]]:
    out = []
    while raw:
        size = int.from_bytes(raw[4:8], "big")
        out.append((raw[0], raw[8:8 + size]))
        raw = raw[8 + size:]
    return out


def test_json_file_logs_rotate_within_bounds(engine: Engine) -> None:
    line = "x" * 200
    # About 100 kB/s: several rotations in the test, each caught by the 0.2 s check.
    cid = _create(engine, ["sh", "-c", f"while true; do echo {line}; usleep 2000; done"],
                  HostConfig={"LogConfig": {"Type": "json-file",
                                            "Config": {"max-size": "32k", "max-file": "3"}}})
    engine.request("POST", f"/containers/{cid}/start")
    time.sleep(3)
    info = engine.request("GET", f"/containers/{cid}/json")[1]
    log_path = Path(info["LogPath"])
    engine.request("POST", f"/containers/{cid}/kill")
    # Rotation stops with the container; let one that was under way finish.
    engine.request("POST", f"/containers/{cid}/wait")
    time.sleep(0.5)
    files = sorted(p.name for p in log_path.parent.iterdir() if p.name.startswith(log_path.name))
    # Rotated twice at least, never more than max-file files. (A rotation caught by the
    # kill leaves no new live file: conmon ended before reopening it.)
    assert {log_path.name + ".1", log_path.name + ".2"} <= set(files)
    assert set(files) <= {log_path.name, log_path.name + ".1", log_path.name + ".2"}
    for name in files:
        # Rotated at max-size, checked 5 times a second.
        assert os.path.getsize(log_path.parent / name) <= 32 * 1024 + 64 * 1024
    raw = engine.request("GET", f"/containers/{cid}/logs?stdout=1")[1]
    lines = [data for _, data in _frames(raw)]
    assert len(lines) > 100
    # The oldest kept line may be the tail of a line whose start was rotated away
    # (conmon splits long output into partial records); every later line is whole.
    bad = [d for d in lines[1:] if d != (line + "\n").encode()]
    assert not bad, bad[:3]
    assert lines[0].endswith(b"x\n")


def test_logs_tail_timestamps_and_follow(engine: Engine) -> None:
    cid = _create(engine, ["sh", "-c", "for i in 1 2 3 4 5; do echo n$i; done; sleep 1; echo last"])
    engine.request("POST", f"/containers/{cid}/start")
    time.sleep(0.5)
    raw = engine.request("GET", f"/containers/{cid}/logs?stdout=1&tail=2&timestamps=1")[1]
    lines = [d for _, d in _frames(raw)]
    assert len(lines) == 2
    assert lines[0].endswith(b" n4\n") and lines[1].endswith(b" n5\n")
    assert lines[0][:4].isdigit()
    # follow returns when the container ends, with the line written after the call.
    raw = engine.request("GET", f"/containers/{cid}/logs?stdout=1&follow=1&tail=0",
                         timeout=30)[1]
    assert [d for _, d in _frames(raw)] == [b"last\n"]
    proc = engine.docker("logs", "--tail", "1", cid)
    assert proc.stdout == b"last\n"


def test_log_driver_none_cannot_be_read(engine: Engine) -> None:
    cid = _create(engine, ["echo", "hi"], HostConfig={"LogConfig": {"Type": "none"}})
    engine.request("POST", f"/containers/{cid}/start")
    status, body = engine.request("GET", f"/containers/{cid}/logs?stdout=1")
    assert status == 400
    assert "does not support reading" in body["message"]


def test_a_create_cut_by_a_crash_leaves_nothing(engine: Engine) -> None:
    cid = _create(engine, ["true"])
    info = engine.request("GET", f"/containers/{cid}/json")[1]
    rootfs = info["GraphDriver"]["Data"]["MergedDir"]
    assert os.path.ismount(rootfs)
    engine.stop(signal.SIGKILL)
    # As if the daemon died before writing the record: the directory and the mount exist.
    (engine.root / "containers" / cid / "container.json").unlink()
    engine.start()
    assert engine.request("GET", f"/containers/{cid}/json")[0] == 404
    assert not os.path.ismount(rootfs)
    assert not (engine.root / "containers" / cid).exists()
