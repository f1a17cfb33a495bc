"""Capability sets applied for real, in forked children, in the order the runtime uses."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest

from cove.errors import SyscallError
from cove.linux import capabilities as C
from cove.linux import libc as L
from tests.seccomp_util import in_child

pytestmark = pytest.mark.timeout(60)

UID = 1000


def bits(names: list[str]) -> int:
    return sum(1 << C.CAPABILITIES[n] for n in names)


def proc_caps(path: str = "/proc/self/status") -> dict[str, int]:
    with open(path) as f:
        return {key: int(value, 16) for key, value in
                (line.split(":\t") for line in f.read().splitlines() if line.startswith("Cap"))}


def become_user(caps: dict[str, Any] | None, uid: int = UID) -> None:
    """What the runtime does: bounding, keepcaps + uid change, then the sets."""
    C.drop_bounding(caps)
    L.prctl(L.PR_SET_KEEPCAPS, 1)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    L.prctl(L.PR_SET_KEEPCAPS, 0)
    C.apply_capabilities(caps)


def ours() -> int:
    """The bounding set this test process has (a sandbox may lack some caps)."""
    return proc_caps()["CapBnd"]


CAPS = {
    "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP",
                 "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_KILL", "CAP_AUDIT_WRITE",
                 "CAP_BPF", "CAP_CHECKPOINT_RESTORE"],
    "permitted": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_KILL",
                  "CAP_CHECKPOINT_RESTORE"],
    "effective": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"],
    "inheritable": ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
    "ambient": ["CAP_NET_BIND_SERVICE"],
}


@pytest.fixture(autouse=True)
def _needs_the_caps() -> None:
    missing = bits(CAPS["bounding"]) & ~ours()
    if missing:
        pytest.skip(f"this process lacks capabilities {missing:#x}")


def test_sets_are_exactly_the_configured_ones() -> None:
    def body() -> dict[str, Any]:
        become_user(CAPS)
        return {"caps": proc_caps(), "uid": os.getresuid()}

    status, out = in_child(body)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out["uid"] == [UID, UID, UID]
    assert out["caps"] == {
        "CapInh": bits(CAPS["inheritable"]), "CapPrm": bits(CAPS["permitted"]),
        "CapEff": bits(CAPS["effective"]), "CapBnd": bits(CAPS["bounding"]),
        "CapAmb": bits(CAPS["ambient"]),
    }


def test_effective_capability_works_and_ambient_survives_exec() -> None:
    def body() -> dict[str, Any]:
        L.unshare(L.CLONE_NEWNET)  # a private port 80, while we still may
        become_user(CAPS)
        with socket.socket() as s:
            s.bind(("0.0.0.0", 80))  # CAP_NET_BIND_SERVICE in effect as uid 1000
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(w, 1)
                os.execv("/bin/cat", ["cat", "/proc/self/status"])
            finally:
                os._exit(127)
        os.close(w)
        text = b""
        while chunk := os.read(r, 65536):
            text += chunk
        os.waitpid(pid, 0)
        return {key: int(value, 16) for key, value in
                (line.split(":\t") for line in text.decode().splitlines()
                 if line.startswith("Cap"))}

    status, after_exec = in_child(body)
    assert os.waitstatus_to_exitcode(status) == 0
    # A plain binary run by uid 1000 keeps exactly the ambient set.
    nbs = bits(["CAP_NET_BIND_SERVICE"])
    assert after_exec["CapAmb"] == nbs
    assert after_exec["CapPrm"] == nbs and after_exec["CapEff"] == nbs
    assert after_exec["CapInh"] == bits(CAPS["inheritable"])


def test_empty_object_drops_everything() -> None:
    def body() -> dict[str, int]:
        become_user({})
        return proc_caps()

    _, caps = in_child(body)
    assert caps == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": 0, "CapAmb": 0}


def test_apply_replaces_the_ambient_set() -> None:
    def body() -> list[int]:
        first = {"permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"],
                 "effective": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
        C.apply_capabilities(first)
        before = proc_caps()["CapAmb"]
        C.apply_capabilities({**first, "ambient": []})
        return [before, proc_caps()["CapAmb"]]

    _, (before, after) = in_child(body)
    assert before == bits(["CAP_KILL"]) and after == 0


def test_root_keeps_what_it_is_given() -> None:
    def body() -> dict[str, int]:
        caps = {"bounding": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL"],
                "effective": ["CAP_KILL"]}
        C.drop_bounding(caps)
        C.apply_capabilities(caps)
        return proc_caps()

    _, caps = in_child(body)
    assert caps["CapBnd"] == bits(["CAP_KILL", "CAP_CHOWN"])
    assert caps["CapPrm"] == caps["CapEff"] == bits(["CAP_KILL"])


def test_caps_above_the_kernels_last_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    def body() -> dict[str, int]:
        monkeypatch.setattr(C, "last_cap", lambda: 38)  # pretend CAP_BPF.. are unknown
        caps = {"bounding": ["CAP_KILL", "CAP_BPF"], "permitted": ["CAP_KILL", "CAP_BPF"],
                "effective": ["CAP_BPF"]}
        C.drop_bounding(caps)
        C.apply_capabilities(caps)
        return proc_caps()

    _, caps = in_child(body)
    assert caps["CapPrm"] == bits(["CAP_KILL"]) and caps["CapEff"] == 0
    # Bits past the pretended last cap were never considered for dropping.
    assert caps["CapBnd"] == bits(["CAP_KILL"]) | (ours() & ~((1 << 39) - 1))


def test_errors_name_the_problem() -> None:
    def body() -> list[str]:
        messages = []
        try:
            C.apply_capabilities({"permitted": ["CAP_KILL"], "effective": ["CAP_CHOWN"]})
        except SyscallError as exc:
            messages.append(str(exc))
        become_user({"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"]})
        try:  # no CAP_SETPCAP any more
            C.drop_bounding({"bounding": []})
        except SyscallError as exc:
            messages.append(str(exc))
        return messages

    _, (capset, drop) = in_child(body)
    assert capset.startswith("capset (effective 0x1, permitted 0x20, inheritable 0x0): "
                             "Operation not permitted")
    assert drop == ("drop CAP_KILL from the bounding set: Operation not permitted "
                    "(needs CAP_SETPCAP)")
