"""build_spec end to end on a fake rootfs: the spec's shape, Docker's defaults, validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cove.engine.ocispec import (
    DEFAULT_CAPABILITIES,
    MASKED_PATHS,
    READONLY_PATHS,
    BuiltSpec,
    SpecOptions,
    build_spec,
    parse_create_request,
    parse_image_config,
)
from cove.engine.ocispec.host import HostInfo
from cove.errors import FailedPrecondition, InvalidArgument, Unsupported
from cove.linux.seccomp import compile_seccomp
from cove.oci.runtime_config import validate_config
from tests.schema import validator

HOST = HostInfo(machine="x86_64", hostname="thehost", online_cpus=frozenset(range(4)),
                online_mems=frozenset({0}), nofile_max=1048576)
CID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                     "app:x:1000:1000:app:/home/app:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\napp:x:1000:\nwheel:x:10:root,app\n")
    return root


def build(rootfs: Path, body: dict[str, Any] | None = None,
          image: dict[str, Any] | None = None, **options: Any) -> BuiltSpec:
    request = parse_create_request({"Cmd": ["sh"], **(body or {})})
    built = build_spec(request, parse_image_config(image or {}),
                       SpecOptions(rootfs=str(rootfs), container_id=CID,
                                   host=options.pop("host", HOST), **options))
    validate_config(built.spec)
    errors = list(validator("config-schema.json").iter_errors(built.spec))
    assert not errors, errors[0]
    return built


def test_default_spec_is_dockers(rootfs: Path) -> None:
    spec = build(rootfs).spec
    proc = spec["process"]
    assert proc["args"] == ["sh"]
    assert proc["cwd"] == "/"
    assert proc["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 10]}
    caps = proc["capabilities"]
    assert sorted(caps["bounding"]) == sorted(DEFAULT_CAPABILITIES)
    assert caps["effective"] == caps["permitted"] == caps["bounding"]
    assert "ambient" not in caps and "inheritable" not in caps
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]
    assert proc["noNewPrivileges"] is False
    assert proc["env"][:2] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "HOSTNAME=0123456789ab"]
    assert "HOME=/root" in proc["env"]
    assert spec["hostname"] == CID[:12]
    assert spec["root"] == {"path": str(rootfs), "readonly": False}
    linux = spec["linux"]
    assert [n["type"] for n in linux["namespaces"]] == ["pid", "network", "ipc", "uts",
                                                        "mount", "cgroup"]
    assert linux["maskedPaths"] == list(MASKED_PATHS)
    assert linux["readonlyPaths"] == list(READONLY_PATHS)
    assert linux["cgroupsPath"] == f"/cove/{CID}"
    assert linux["resources"]["devices"][0] == {"allow": False, "type": "a", "access": "rwm"}
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert list(mounts) == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup",
                            "/dev/mqueue", "/dev/shm"]
    assert "ro" in mounts["/sys"]["options"] and "ro" in mounts["/sys/fs/cgroup"]["options"]
    assert "size=67108864" in mounts["/dev/shm"]["options"]


def test_default_seccomp_compiles(rootfs: Path) -> None:
    spec = build(rootfs).spec
    program = compile_seccomp(spec["linux"]["seccomp"])
    assert program.instructions > 10


def test_privileged(rootfs: Path) -> None:
    spec = build(rootfs, {"HostConfig": {"Privileged": True}}).spec
    linux = spec["linux"]
    assert "seccomp" not in linux
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux
    assert linux["resources"]["devices"] == [{"allow": True, "type": "a", "access": "rwm"}]
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["bounding"]
    assert len(spec["process"]["capabilities"]["bounding"]) == 41
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert "ro" not in mounts["/sys"]["options"]
    assert "ro" not in mounts["/sys/fs/cgroup"]["options"]
    assert any(d["path"] == "/dev/null" for d in linux["devices"])


def test_readonly_rootfs_and_resources(rootfs: Path) -> None:
    spec = build(rootfs, {"HostConfig": {
        "ReadonlyRootfs": True, "Memory": 64 << 20, "NanoCpus": 1_500_000_000,
        "PidsLimit": 100, "CpuShares": 512, "CpusetCpus": "0-1", "OomScoreAdj": 500,
        "BlkioWeight": 300, "OomKillDisable": True}}).spec
    assert spec["root"]["readonly"] is True
    res = spec["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20, "swap": 128 << 20, "disableOOMKiller": True}
    assert res["cpu"] == {"shares": 512, "period": 100000, "quota": 150000, "cpus": "0-1"}
    assert res["pids"] == {"limit": 100}
    assert res["blockIO"] == {"weight": 300}
    assert spec["process"]["oomScoreAdj"] == 500


def test_init_prepends_docker_init(rootfs: Path, tmp_path: Path) -> None:
    tini = tmp_path / "tini"
    tini.write_text("")
    spec = build(rootfs, {"HostConfig": {"Init": True}}, init_path=str(tini)).spec
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sh"]
    init = next(m for m in spec["mounts"] if m["destination"] == "/sbin/docker-init")
    assert init["source"] == str(tini) and "ro" in init["options"]
    with pytest.raises(FailedPrecondition):
        build(rootfs, {"HostConfig": {"Init": True}})


def test_etc_files_bound(rootfs: Path, tmp_path: Path) -> None:
    spec = build(rootfs, hostname_path="/x/hostname", hosts_path="/x/hosts",
                 resolv_conf_path="/x/resolv.conf").spec
    binds = {m["destination"]: m["source"] for m in spec["mounts"] if m["type"] == "bind"}
    assert binds == {"/etc/hostname": "/x/hostname", "/etc/hosts": "/x/hosts",
                     "/etc/resolv.conf": "/x/resolv.conf"}


def test_named_volume_is_unsupported(rootfs: Path) -> None:
    with pytest.raises(Unsupported, match="named volume"):
        build(rootfs, {"HostConfig": {"Binds": ["data:/data"]}})


def test_no_command(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="No command specified"):
        build_spec(parse_create_request({}), parse_image_config({}),
                   SpecOptions(rootfs=str(rootfs), container_id=CID, host=HOST))
