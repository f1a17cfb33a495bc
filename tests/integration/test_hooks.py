"""Lifecycle hooks: each kind runs at its point with the state on stdin; failures handled."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from tests.helpers import Runtime, base_config


def hook_script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.sh"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_all_hooks_run_in_order_with_state(runtime: Runtime, make_bundle: Callable[..., Path],
                                           tmp_path: Path, cid: str) -> None:
    log = tmp_path / "hooks.log"
    hooks = {}
    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        script = hook_script(tmp_path, kind, f'read -r state; echo "{kind} $state" >> {log}')
        hooks[kind] = [{"path": script, "args": [script, "x"], "timeout": 5}]
    # container-namespace hooks: path resolved before/after pivot_root respectively
    hooks["createContainer"] = [{"path": "/bin/sh",
                                 "args": ["sh", "-c", f"echo createContainer >> {log}"]}]
    hooks["startContainer"] = [{"path": "/bin/sh",
                                "args": ["sh", "-c", "echo startContainer > /tmp/started"]}]
    cfg = base_config(["sh", "-c", "cat /tmp/started"])
    cfg["hooks"] = hooks
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert "startContainer" in out
    lines = log.read_text().splitlines()
    kinds = [line.split()[0] for line in lines]
    assert kinds == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
    states = {line.split()[0]: json.loads(line.split(" ", 1)[1]) for line in lines
              if line.split()[0] != "createContainer"}
    assert states["prestart"]["status"] == "creating" and states["prestart"]["id"] == cid
    assert states["prestart"]["pid"] > 0
    assert states["poststart"]["status"] == "running"
    assert states["poststop"]["status"] == "stopped"


def test_failing_prestart_hook_aborts_create(runtime: Runtime,
                                             make_bundle: Callable[..., Path],
                                             tmp_path: Path, cid: str) -> None:
    cfg = base_config(["true"])
    cfg["hooks"] = {"prestart": [{"path": hook_script(tmp_path, "bad", "echo boom >&2; exit 4")}]}
    res = runtime.create(cid, make_bundle(cfg), check=False)
    assert res.returncode != 0
    out = runtime.output(cid)
    assert "prestart" in out and "boom" in out
    assert not (runtime.root / cid).exists()


def test_hook_timeout(runtime: Runtime, make_bundle: Callable[..., Path], tmp_path: Path,
                      cid: str) -> None:
    cfg = base_config(["true"])
    marker = tmp_path / "slow-hook-child"
    body = f"sleep 30 & echo $! > {marker}; wait"
    cfg["hooks"] = {"createRuntime": [{"path": hook_script(tmp_path, "slow", body),
                                       "timeout": 1}]}
    res = runtime.create(cid, make_bundle(cfg), check=False)
    assert res.returncode != 0
    assert "timed out" in runtime.output(cid)
    assert not (runtime.root / cid).exists()
    child = int(marker.read_text())
    assert not os.path.exists(f"/proc/{child}") or \
        Path(f"/proc/{child}/stat").read_text().split(")")[1].split()[0] == "Z", \
        "the hook's child outlived the timeout"


def test_failing_poststop_hook_does_not_block_delete(runtime: Runtime,
                                                     make_bundle: Callable[..., Path],
                                                     tmp_path: Path, cid: str) -> None:
    cfg = base_config(["true"])
    cfg["hooks"] = {"poststop": [{"path": hook_script(tmp_path, "ps", "exit 1")}]}
    runtime.run_to_end(cid, make_bundle(cfg))
    assert not (runtime.root / cid).exists()
    assert os.path.exists(tmp_path)
