"""Bad config.json: a clear message naming the field, non-zero exit, nothing left behind."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SPECS, Runtime, base_config, write_bundle


def _no_leftovers(runtime: Runtime, cid: str) -> None:
    assert not (runtime.root / cid).exists(), "state dir left behind"
    for ctrl in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(f"/sys/fs/cgroup/{ctrl}/cove/{cid}"), f"cgroup left in {ctrl}"
    with open("/proc/mounts") as f:
        assert cid not in f.read()


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(cfg: dict[str, Any]) -> None:
        keys = path.split(".")
        node: Any = cfg
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(keys[-1])] = value
        else:
            node[keys[-1]] = value
    return apply


CASES = [
    ("unknown namespace", _mutate("linux.namespaces.0", {"type": "foo"}), "linux.namespaces"),
    ("bad ociVersion", _mutate("ociVersion", 12), "ociVersion"),
    ("args not a list", _mutate("process.args", "true"), "process.args"),
    ("relative cwd", _mutate("process.cwd", "tmp"), "process.cwd"),
    ("unknown capability", _mutate("process.capabilities.bounding", ["CAP_NOPE"]), "CAP_NOPE"),
    ("unknown rlimit", _mutate("process.rlimits", [{"type": "RLIMIT_NOPE", "soft": 1,
                                                    "hard": 1}]), "RLIMIT_NOPE"),
    ("relative mount destination", _mutate("mounts.0.destination", "proc"),
     "mounts[0].destination"),
    ("missing bind source", lambda c: c["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/nonexistent/src",
         "options": ["bind"]}), "/nonexistent/src"),
    ("bad mount type", lambda c: c["mounts"].append(
        {"destination": "/x", "type": "nosuchfs", "source": "none"}), "/x"),
    ("unknown syscall", _mutate("linux.seccomp", {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}),
     "no_such_syscall"),
    ("unknown seccomp action", _mutate("linux.seccomp", {"defaultAction": "SCMP_ACT_NOPE"}),
     "defaultAction"),
    ("bad memory limit", _mutate("linux.resources", {"memory": {"limit": "lots"}}),
     "linux.resources.memory.limit"),
    ("userns without mappings", lambda c: c["linux"]["namespaces"].append({"type": "user"}),
     "Mappings"),
    ("host-wide sysctl", _mutate("linux.sysctl", {"kernel.panic": "1"}), "kernel.panic"),
    ("net sysctl without netns", lambda c: (
        c["linux"].__setitem__("sysctl", {"net.ipv4.ip_forward": "1"}),
        c["linux"].__setitem__("namespaces", [n for n in c["linux"]["namespaces"]
                                              if n["type"] != "network"])),
     "network namespace"),
    ("sysctl path traversal", _mutate("linux.sysctl", {"net/../../kernel/panic": "1"}),
     "not a sysctl name"),
    ("hook with relative path", _mutate("hooks", {"prestart": [{"path": "hook.sh"}]}),
     "hooks.prestart[0].path"),
]


@pytest.mark.parametrize(("name", "mutate", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_config(runtime: Runtime, make_bundle: Callable[..., Path], cid: str, name: str,
                    mutate: Callable[[dict[str, Any]], None], needle: str) -> None:
    cfg = base_config()
    mutate(cfg)
    res = runtime.create(cid, make_bundle(cfg), check=False)
    assert res.returncode != 0, name
    assert needle in runtime.output(cid), runtime.output(cid)
    _no_leftovers(runtime, cid)


def test_invalid_json(runtime: Runtime, tmp_path: Path, cid: str) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "config.json").write_text('{"ociVersion": "1.2.0", ')
    res = runtime.create(cid, bundle, check=False)
    assert res.returncode != 0
    assert "config.json" in runtime.output(cid)
    _no_leftovers(runtime, cid)


def test_missing_rootfs(runtime: Runtime, tmp_path: Path, cid: str) -> None:
    bundle = write_bundle(tmp_path / "b", tmp_path / "no-rootfs", base_config())
    res = runtime.create(cid, bundle, check=False)
    assert res.returncode != 0
    assert "root.path" in runtime.output(cid)
    _no_leftovers(runtime, cid)


def test_missing_config(runtime: Runtime, tmp_path: Path, cid: str) -> None:
    res = runtime.create(cid, tmp_path, check=False)
    assert res.returncode != 0
    assert "config.json" in runtime.output(cid)
    _no_leftovers(runtime, cid)


@pytest.mark.parametrize("example", sorted((SPECS / "oci-runtime/examples/bad").glob("*.json")),
                         ids=lambda p: p.name)
def test_spec_bad_examples_rejected(runtime: Runtime, example: Path, tmp_path: Path,
                                    busybox_rootfs: Path, cid: str) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    text = example.read_text()
    try:
        cfg = json.loads(text)
        cfg.setdefault("root", {})["path"] = str(busybox_rootfs)
        text = json.dumps(cfg)
    except ValueError:
        pass
    (bundle / "config.json").write_text(text)
    res = runtime.create(cid, bundle, check=False)
    assert res.returncode != 0
    _no_leftovers(runtime, cid)
