"""Client-side value conversion, checked against what docker sends for the same input."""

from __future__ import annotations

import pytest

from cove.cli import units


@pytest.mark.parametrize(("text", "expected"), [
    ("512m", 512 * 1024 * 1024), ("512M", 512 * 1024 * 1024), ("1g", 1 << 30),
    ("1.5g", int(1.5 * (1 << 30))), ("1024", 1024), ("10k", 10240), ("64mb", 64 << 20),
    ("2GiB", 2 << 30), ("1t", 1 << 40), ("0", 0),
])
def test_parse_ram(text: str, expected: int) -> None:
    assert units.parse_ram(text) == expected


@pytest.mark.parametrize("text", ["", "m", "12x", "-1", "1..5m", "1.m", "abc"])
def test_parse_ram_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        units.parse_ram(text)


def test_swap_minus_one() -> None:
    assert units.parse_swap("-1") == -1
    assert units.parse_swap("1g") == 1 << 30


@pytest.mark.parametrize(("text", "ns"), [
    ("30s", 30 * 10**9), ("1m30s", 90 * 10**9), ("1h", 3600 * 10**9), ("300ms", 300 * 10**6),
    ("1.5s", 1_500_000_000), ("2us", 2000), ("10ns", 10), ("0", 0), ("1h2m3.5s", 3723_500_000_000),
    ("-1s", -(10**9)),
])
def test_parse_duration(text: str, ns: int) -> None:
    assert units.parse_duration(text) == ns


@pytest.mark.parametrize(("text", "message"), [
    ("30", "missing unit"), ("abc", "invalid duration"), ("1x", "unknown unit"), ("", "invalid"),
])
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_duration(text)


def test_positive_duration() -> None:
    with pytest.raises(ValueError, match="negative"):
        units.parse_positive_duration("-5s")


@pytest.mark.parametrize(("text", "nano"), [
    ("1.5", 1_500_000_000), ("2", 2_000_000_000), ("0.25", 250_000_000), (".5", 500_000_000),
    ("0.000000001", 1),
])
def test_nanocpus(text: str, nano: int) -> None:
    assert units.parse_nanocpus(text) == nano


@pytest.mark.parametrize("text", ["x", "1.x", "", "1.0000000001"])
def test_nanocpus_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        units.parse_nanocpus(text)


def test_ulimit() -> None:
    assert units.parse_ulimit("nofile=1024:2048") == {"Name": "nofile", "Soft": 1024,
                                                      "Hard": 2048}
    assert units.parse_ulimit("nproc=64") == {"Name": "nproc", "Soft": 64, "Hard": 64}
    for bad, msg in (("nofile", "invalid ulimit argument"), ("bogus=1", "invalid ulimit type"),
                     ("nofile=10:5", "soft limit must be less"),
                     ("nofile=a", "invalid ulimit argument")):
        with pytest.raises(ValueError, match=msg):
            units.parse_ulimit(bad)


@pytest.mark.parametrize(("text", "policy"), [
    ("no", {"Name": "no", "MaximumRetryCount": 0}),
    ("always", {"Name": "always", "MaximumRetryCount": 0}),
    ("unless-stopped", {"Name": "unless-stopped", "MaximumRetryCount": 0}),
    ("on-failure", {"Name": "on-failure", "MaximumRetryCount": 0}),
    ("on-failure:3", {"Name": "on-failure", "MaximumRetryCount": 3}),
])
def test_restart(text: str, policy: dict[str, object]) -> None:
    assert units.parse_restart(text) == policy


@pytest.mark.parametrize("text", ["always:3", "sometimes", "on-failure:x", "on-failure:1:2"])
def test_restart_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        units.parse_restart(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("80", [("80/tcp", {"HostIp": "", "HostPort": ""})]),
    ("8080:80", [("80/tcp", {"HostIp": "", "HostPort": "8080"})]),
    ("127.0.0.1:8080:80/udp", [("80/udp", {"HostIp": "127.0.0.1", "HostPort": "8080"})]),
    ("127.0.0.1::80", [("80/tcp", {"HostIp": "127.0.0.1", "HostPort": ""})]),
    ("[::1]:8080:80", [("80/tcp", {"HostIp": "::1", "HostPort": "8080"})]),
    ("8000-8001:80-81", [("80/tcp", {"HostIp": "", "HostPort": "8000"}),
                         ("81/tcp", {"HostIp": "", "HostPort": "8001"})]),
    ("8000-8010:80", [("80/tcp", {"HostIp": "", "HostPort": "8000-8010"})]),
])
def test_publish(text: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert units.parse_publish(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("abc", "invalid containerPort"), ("x:80", "invalid hostPort"), ("80/xtp", "invalid proto"),
    ("1.2.3.999:80:80", "invalid ip address"), ("8000-8002:80-81", "invalid ranges"),
    ("1:2:3:4", "invalid port format"), ("70000", "invalid containerPort"),
])
def test_publish_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_publish(text)


def test_expose() -> None:
    assert units.parse_expose("80") == ["80/tcp"]
    assert units.parse_expose("53/udp") == ["53/udp"]
    assert units.parse_expose("8000-8002") == ["8000/tcp", "8001/tcp", "8002/tcp"]


@pytest.mark.parametrize(("text", "expected"), [
    ("/dev/sda", ("/dev/sda", "/dev/sda", "rwm")),
    ("/dev/sda:/dev/xvda", ("/dev/sda", "/dev/xvda", "rwm")),
    ("/dev/sda:/dev/xvda:r", ("/dev/sda", "/dev/xvda", "r")),
    ("/dev/sda:rw", ("/dev/sda", "/dev/sda", "rw")),
])
def test_device(text: str, expected: tuple[str, str, str]) -> None:
    d = units.parse_device(text)
    assert (d["PathOnHost"], d["PathInContainer"], d["CgroupPermissions"]) == expected


def test_device_rejects() -> None:
    with pytest.raises(ValueError, match="invalid device mode"):
        units.parse_device("/dev/a:/dev/b:rwx")
    with pytest.raises(ValueError, match="bad format for path"):
        units.parse_device("/dev/a:rel/path:r")


def test_mount() -> None:
    m = units.parse_mount("type=bind,source=/a,target=/b,readonly,bind-propagation=rshared")
    assert m == {"Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
                 "BindOptions": {"Propagation": "rshared"}}
    t = units.parse_mount("type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770")
    assert t["TmpfsOptions"] == {"SizeBytes": 64 << 20, "Mode": 0o1770}
    v = units.parse_mount('src=data,dst=/data,volume-opt=o=x,"volume-label=a=b",ro=false')
    assert v["Type"] == "volume" and v["ReadOnly"] is False
    assert v["VolumeOptions"] == {"DriverConfig": {"Options": {"o": "x"}},
                                  "Labels": {"a": "b"}}


@pytest.mark.parametrize(("text", "message"), [
    ("type=bind,src=/a", "target is required"),
    ("type=bind,dst=/a", "source is required"),
    ("type=bind,src=/a,dst=/b,tmpfs-size=1m", "cannot mix"),
    ("type=bind,src=/a,dst=/b,colour=red", "unexpected key"),
    ("type=bogus,dst=/b", "invalid mount type"),
    ("dst=/b,foo", "must be a key=value pair"),
])
def test_mount_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_mount(text)


def test_volume() -> None:
    assert units.parse_volume("/data") == ("anonymous", "/data")
    assert units.parse_volume("/host:/ctr") == ("bind", "/host:/ctr")
    assert units.parse_volume("vol:/ctr:ro") == ("bind", "vol:/ctr:ro")
    for bad in ("rel", "/a:rel", "/a:/b:bogus", "/a::/b", "a:b:c:d"):
        with pytest.raises(ValueError):
            units.parse_volume(bad)


def test_add_host_and_ip() -> None:
    assert units.parse_add_host("db:10.0.0.2") == "db:10.0.0.2"
    assert units.parse_add_host("db=::1") == "db:::1"
    assert units.parse_add_host("gw:host-gateway") == "gw:host-gateway"
    with pytest.raises(ValueError, match="invalid IP address in add-host"):
        units.parse_add_host("db:notanip")
    with pytest.raises(ValueError):
        units.parse_ip("300.1.1.1")


def test_env_and_files(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    monkeypatch.setenv("COVE_TEST_VAR", "here")
    monkeypatch.delenv("COVE_TEST_UNSET", raising=False)
    assert units.parse_env("A=1") == "A=1"
    assert units.parse_env("COVE_TEST_VAR") == "COVE_TEST_VAR=here"
    assert units.parse_env("COVE_TEST_UNSET") is None
    path = tmp_path / "env"
    path.write_text("# comment\n\nA=1\n  B=two words\nCOVE_TEST_VAR\nCOVE_TEST_UNSET\n")
    import os

    assert units.read_kv_file(str(path), os.environ.get) == ["A=1", "B=two words",
                                                             "COVE_TEST_VAR=here"]
    bad = tmp_path / "bad"
    bad.write_text("MY VAR=1\n")
    with pytest.raises(ValueError, match="contains whitespaces"):
        units.read_kv_file(str(bad), None)
    with pytest.raises(ValueError, match="no such file"):
        units.read_kv_file(str(tmp_path / "missing"), None)


def test_capabilities_and_signals() -> None:
    assert units.normalize_capability("net_admin") == "CAP_NET_ADMIN"
    assert units.normalize_capability("ALL") == "ALL"
    assert units.parse_signal("kill") == "SIGKILL"
    assert units.parse_signal("SIGusr1") == "SIGUSR1"
    assert units.parse_signal("RTMIN+3") == "SIGRTMIN+3"
    assert units.parse_signal("9") == "9"
    for bad in ("99", "0", "", "FOO", "SIGBOGUS", "RTMIN+99", "RTMAX+1"):
        with pytest.raises(ValueError, match="invalid signal"):
            units.parse_signal(bad)


@pytest.mark.parametrize(("size", "text"), [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (1234567, "1.23MB"), (4_260_000, "4.26MB"),
    (1.5e9, "1.5GB"),
])
def test_human_size(size: float, text: str) -> None:
    assert units.human_size(size) == text


def test_bytes_size() -> None:
    assert units.bytes_size(2 * 1024 * 1024) == "2MiB"
    assert units.bytes_size(1536) == "1.5KiB"
    assert units.bytes_size(1_000_000) == "976.6KiB"


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "Less than a second"), (1, "1 second"), (45, "45 seconds"), (60, "About a minute"),
    (150, "2 minutes"), (3600, "About an hour"), (3 * 3600, "3 hours"), (72 * 3600, "3 days"),
    (15 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert units.human_duration(seconds) == text


def test_timestamps() -> None:
    assert units.parse_timestamp("10m", now=1000.0) == "400.000000000"
    assert units.parse_timestamp("1700000000") == "1700000000"
    assert units.parse_timestamp("0") == "0"
    assert units.parse_timestamp("1.5") == "1.5"
    assert units.parse_timestamp("2024-01-01T00:00:00Z") == "1704067200.000000000"
    with pytest.raises(ValueError):
        units.parse_timestamp("yesterday-ish:")
