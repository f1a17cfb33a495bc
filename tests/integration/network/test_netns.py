"""Network namespaces made, entered and removed without subprocesses, on the real kernel."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from cove.errors import AlreadyExists, NotFound, SyscallError
from cove.linux import netns as netns_mod
from cove.linux.netlink import Netlink
from cove.linux.netns import (
    create_netns,
    netns_exists,
    remove_netns,
    run_in_netns,
    set_sysctl,
)


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _netns_id(netns: str | None = None) -> str:
    """The namespace of the calling thread, or of ``netns`` (read from inside it)."""
    if netns is None:
        return os.readlink("/proc/thread-self/ns/net")
    return run_in_netns(netns, lambda: os.readlink("/proc/thread-self/ns/net"))


def test_create_netns_mounts_a_new_namespace_with_lo_up(make_netns: Callable[[], str]) -> None:
    path = make_netns()
    assert netns_exists(path)
    assert _mounted(path)
    assert stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode) == 0o444
    assert _netns_id(path) != _netns_id()
    with Netlink(path) as nl:
        assert [(link.name, link.up) for link in nl.links()] == [("lo", True)]
        assert ("lo", "127.0.0.1/8") in nl.addresses()


def test_remove_netns_leaves_no_mount_and_no_file(tmp_path: Path) -> None:
    path = str(tmp_path / "cvnl-gone")
    create_netns(path)
    try:
        assert _mounted(path)
    finally:
        remove_netns(path)
    assert not _mounted(path)
    assert not os.path.exists(path)
    assert not netns_exists(path)
    remove_netns(path)  # a missing one is fine


def test_remove_netns_removes_a_leftover_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "cvnl-plain"
    path.write_text("")
    assert not netns_exists(str(path))
    remove_netns(str(path))
    assert not path.exists()


def test_create_netns_refuses_an_existing_path(make_netns: Callable[[], str]) -> None:
    path = make_netns()
    before = _netns_id(path)
    with pytest.raises(AlreadyExists, match=path):
        create_netns(path)
    assert netns_exists(path)
    assert _netns_id(path) == before


def test_create_netns_failure_leaves_nothing(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> None:
        raise SyscallError("cannot bring lo up: injected", errno.EIO)

    monkeypatch.setattr(netns_mod, "_loopback_up", fail)
    path = str(tmp_path / "cvnl-fail")
    try:
        with pytest.raises(SyscallError, match="injected"):
            create_netns(path)
        assert not _mounted(path)
        assert not os.path.exists(path)
    finally:
        remove_netns(path)


def test_run_in_netns_runs_inside_and_leaves_the_caller_alone(
        make_netns: Callable[[], str]) -> None:
    path = make_netns()
    own = _netns_id()
    inside = _netns_id(path)
    assert inside == f"net:[{os.stat(path).st_ino}]"
    assert inside != own
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert run_in_netns(fd, lambda: os.readlink("/proc/thread-self/ns/net")) == inside
    finally:
        os.close(fd)
    assert _netns_id() == own


def test_run_in_netns_reraises_the_functions_exception(make_netns: Callable[[], str]) -> None:
    path = make_netns()

    def boom() -> None:
        raise KeyError("cvnl-boom")

    with pytest.raises(KeyError, match="cvnl-boom"):
        run_in_netns(path, boom)


def test_run_in_netns_missing_namespace_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="cvnl-missing"):
        run_in_netns(str(tmp_path / "cvnl-missing"), lambda: None)


def test_run_in_netns_rejects_a_file_that_is_no_namespace(tmp_path: Path) -> None:
    path = tmp_path / "cvnl-notns"
    path.write_text("")
    with pytest.raises(SyscallError, match="setns") as err:
        run_in_netns(str(path), lambda: None)
    assert err.value.errno == errno.EINVAL


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def test_set_sysctl_inside_a_netns_only(make_netns: Callable[[], str]) -> None:
    path = make_netns()
    host_value = _read("/proc/sys/net/ipv4/conf/lo/arp_notify")
    new = "0" if host_value == "1" else "1"
    set_sysctl("net.ipv4.conf.lo.arp_notify", new, netns=path)
    assert run_in_netns(path, lambda: _read("/proc/sys/net/ipv4/conf/lo/arp_notify")) == new
    assert _read("/proc/sys/net/ipv4/conf/lo/arp_notify") == host_value
    set_sysctl("net.ipv4.ip_forward", "1", netns=path)
    assert run_in_netns(path, lambda: _read("/proc/sys/net/ipv4/ip_forward")) == "1"


def test_set_sysctl_unknown_key_is_not_found(make_netns: Callable[[], str]) -> None:
    path = make_netns()
    with pytest.raises(NotFound, match="net.ipv4.conf.cvnl0.arp_notify"):
        set_sysctl("net.ipv4.conf.cvnl0.arp_notify", "1", netns=path)
