"""HostConfig through build_spec: mounts, namespaces, hostname rules, security options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cove.engine.ocispec import BuiltSpec, SpecOptions, build_spec, parse_create_request
from cove.engine.ocispec import parse_image_config as image_config
from cove.engine.ocispec.host import HostInfo
from cove.engine.ocispec.mounts import tmpfs_options
from cove.errors import FailedPrecondition, InvalidArgument, NotFound, Unsupported
from cove.oci.runtime_config import validate_config
from tests.schema import validator

HOST = HostInfo(hostname="thehost", online_cpus=frozenset({0, 1}))
CID = "c0ffee0123456789c0ffee"


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    return root


def build(rootfs: Path, host_config: dict[str, Any] | None = None, **body: Any) -> BuiltSpec:
    options: dict[str, Any] = body.pop("options", {})
    request = parse_create_request({"Cmd": ["sh"], **body, "HostConfig": host_config or {}})
    built = build_spec(request, image_config({}),
                       SpecOptions(rootfs=str(rootfs), container_id=CID, host=HOST, **options))
    validate_config(built.spec)
    errors = list(validator("config-schema.json").iter_errors(built.spec))
    assert not errors, errors[0]
    return built


def mounts(built: BuiltSpec) -> dict[str, dict[str, Any]]:
    return {m["destination"]: m for m in built.spec["mounts"]}


def namespaces(built: BuiltSpec) -> dict[str, str | None]:
    return {n["type"]: n.get("path") for n in built.spec["linux"]["namespaces"]}


# -- binds, mounts, tmpfs ---------------------------------------------------------------------

def test_binds(rootfs: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    built = build(rootfs, {"Binds": [f"{src}:/data", f"{src}:/ro:ro,rshared",
                                     f"{tmp_path}/new/dir:/new:rw,z"]})
    m = mounts(built)
    assert m["/data"] == {"destination": "/data", "type": "bind", "source": str(src),
                          "options": ["rbind", "rprivate"]}
    assert m["/ro"]["options"] == ["rbind", "rshared", "ro"]
    assert (tmp_path / "new/dir").is_dir()  # Docker creates a missing bind source
    assert built.created_bind_sources == (f"{tmp_path}/new/dir",)


def test_user_mounts_parents_first(rootfs: Path, tmp_path: Path) -> None:
    built = build(rootfs, {"Binds": [f"{tmp_path}:/a/b/c", f"{tmp_path}:/a"],
                           "Tmpfs": {"/a/b": ""}})
    order = [m["destination"] for m in built.spec["mounts"]][-3:]
    assert order == ["/a", "/a/b", "/a/b/c"]


def test_bind_to_etc_hosts_replaces_daemons(rootfs: Path, tmp_path: Path) -> None:
    built = build(rootfs, {"Binds": [f"{tmp_path}:/etc/hosts:ro"]},
                  options={"hosts_path": "/daemon/hosts"})
    assert mounts(built)["/etc/hosts"]["source"] == str(tmp_path)


def test_refused_request_creates_nothing(rootfs: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        build(rootfs, {"Binds": [f"{tmp_path}/never:/x"], "Memory": 1})
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(("binds", "error", "message"), [
    (["/a"], InvalidArgument, "invalid volume specification: '/a'"),
    (["/a:/b:c:d"], InvalidArgument, "invalid volume specification"),
    (["/a:rel"], InvalidArgument, "mount path must be absolute"),
    (["/a:/"], InvalidArgument, "destination can't be '/'"),
    (["/a:/b:rx"], InvalidArgument, "invalid mode: rx"),
    (["/a:/b:ro,rw"], InvalidArgument, "invalid mode: ro,rw"),
    (["/a:/b", "/c:/b/"], InvalidArgument, "Duplicate mount point: /b"),
    (["vol:/data"], Unsupported, "no volume service"),
    (["/a:/proc/sys"], InvalidArgument, 'cannot be mounted because it is located inside'),
])
def test_bind_errors(rootfs: Path, binds: list[str], error: type[Exception],
                     message: str) -> None:
    with pytest.raises(error, match=message):
        build(rootfs, {"Binds": binds})


def test_api_mounts(rootfs: Path, tmp_path: Path) -> None:
    built = build(rootfs, {"Mounts": [
        {"Type": "bind", "Source": str(tmp_path), "Target": "/b", "ReadOnly": True,
         "BindOptions": {"Propagation": "rslave", "NonRecursive": True}},
        {"Type": "bind", "Source": str(tmp_path), "Target": "/forced", "ReadOnly": True,
         "BindOptions": {"ReadOnlyForceRecursive": True}},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20,
                                                          "Mode": 0o1777,
                                                          "Options": [["exec"]]}},
        {"Type": "bind", "Source": f"{tmp_path}/made", "Target": "/made",
         "BindOptions": {"CreateMountpoint": True}},
    ]})
    m = mounts(built)
    assert m["/b"]["options"] == ["bind", "rslave", "ro"]
    assert m["/forced"]["options"] == ["rbind", "rprivate", "rro"]
    assert m["/t"] == {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "size=1048576", "mode=1777", "exec"]}
    assert (tmp_path / "made").is_dir()


@pytest.mark.parametrize(("mount", "error", "message"), [
    ({"Type": "bind", "Source": "/no/such/path", "Target": "/x"}, InvalidArgument,
     "bind source path does not exist: /no/such/path"),
    ({"Type": "bind", "Target": "/x"}, InvalidArgument, "field Source must not be empty"),
    ({"Type": "bind", "Source": "/", "Target": ""}, InvalidArgument,
     "field Target must not be empty"),
    ({"Type": "bind", "Source": "/", "Target": "/x",
      "BindOptions": {"Propagation": "weird"}}, InvalidArgument, "invalid propagation mode"),
    ({"Type": "tmpfs", "Source": "/", "Target": "/x"}, InvalidArgument,
     "Source must not be specified"),
    ({"Type": "volume", "Source": "v", "Target": "/x"}, Unsupported,
     "no volume service"),
    ({"Type": "npipe", "Source": "p", "Target": "/x"}, Unsupported, "npipe"),
    ({"Type": "weird", "Target": "/x"}, InvalidArgument, "mount type unknown"),
])
def test_api_mount_errors(rootfs: Path, mount: dict[str, Any], error: type[Exception],
                          message: str) -> None:
    with pytest.raises(error, match=message):
        build(rootfs, {"Mounts": [mount]})


def test_tmpfs(rootfs: Path) -> None:
    m = mounts(build(rootfs, {"Tmpfs": {"/run": "", "/cache": "size=64m,exec,mode=700"}}))
    assert m["/run"]["options"] == ["noexec", "nosuid", "nodev"]
    assert m["/cache"]["options"] == ["nosuid", "nodev", "size=64m", "exec", "mode=700"]
    with pytest.raises(InvalidArgument, match='unknown tmpfs option "bogus"'):
        tmpfs_options("bogus", "HostConfig.Tmpfs[/x]")
    with pytest.raises(InvalidArgument, match="mount path must be absolute"):
        build(rootfs, {"Tmpfs": {"run": ""}})


def test_shm(rootfs: Path, tmp_path: Path) -> None:
    assert "size=1048576" in mounts(build(rootfs, {"ShmSize": 1 << 20}))["/dev/shm"]["options"]
    assert "/dev/shm" not in mounts(build(rootfs, {"IpcMode": "none"}))
    shared = mounts(build(rootfs, {"IpcMode": "shareable"},
                          options={"shm_path": str(tmp_path)}))["/dev/shm"]
    assert shared["type"] == "bind" and shared["source"] == str(tmp_path)
    host = mounts(build(rootfs, {"IpcMode": "host"}))
    assert host["/dev/shm"]["source"] == "/dev/shm"
    with pytest.raises(InvalidArgument, match="SHM size can not be less than 0"):
        build(rootfs, {"ShmSize": -1})


# -- namespaces and names ---------------------------------------------------------------------

def test_host_modes(rootfs: Path) -> None:
    built = build(rootfs, {"PidMode": "host", "IpcMode": "host", "UTSMode": "host",
                           "NetworkMode": "host", "CgroupnsMode": "host"})
    assert namespaces(built) == {"mount": None}
    assert "hostname" not in built.spec


def test_host_network_takes_host_name(rootfs: Path) -> None:
    built = build(rootfs, {"NetworkMode": "host"})
    assert "network" not in namespaces(built)
    assert built.spec["hostname"] == "thehost"
    assert "HOSTNAME=thehost" in built.spec["process"]["env"]
    assert build(rootfs, {"NetworkMode": "host"}, Hostname="mine").spec["hostname"] == "mine"


@pytest.mark.parametrize("mode", ["bridge", "default", "none", "mynet", ""])
def test_network_modes_get_own_netns(rootfs: Path, mode: str) -> None:
    assert "network" in namespaces(build(rootfs, {"NetworkMode": mode}))


def test_container_modes_use_resolver(rootfs: Path) -> None:
    calls: list[tuple[str, str]] = []

    def resolve(kind: str, ref: str) -> str:
        calls.append((kind, ref))
        return f"/proc/42/ns/{'net' if kind == 'network' else kind}"

    built = build(rootfs, {"PidMode": "container:a", "IpcMode": "container:b",
                           "NetworkMode": "container:c"},
                  options={"namespace_resolver": resolve})
    ns = namespaces(built)
    assert ns["pid"] == "/proc/42/ns/pid" and ns["network"] == "/proc/42/ns/net"
    assert ns["uts"] is None and ns["mount"] is None
    assert sorted(calls) == [("ipc", "b"), ("network", "c"), ("pid", "a")]


def test_resolver_errors_pass_through(rootfs: Path) -> None:
    def resolve(kind: str, ref: str) -> str:
        raise NotFound(f"No such container: {ref}")

    with pytest.raises(NotFound, match="No such container: gone"):
        build(rootfs, {"PidMode": "container:gone"}, options={"namespace_resolver": resolve})
    with pytest.raises(Unsupported, match="namespace resolver"):
        build(rootfs, {"PidMode": "container:x"})


@pytest.mark.parametrize(("host_config", "body", "error", "message"), [
    ({"UTSMode": "host"}, {"Hostname": "h"}, InvalidArgument,
     "conflicting options: hostname and the UTS mode"),
    ({"NetworkMode": "container:x"}, {"Hostname": "h"}, InvalidArgument,
     "conflicting options: hostname and the network mode"),
    ({"NetworkMode": "container:x", "Dns": ["1.1.1.1"]}, {}, InvalidArgument,
     "conflicting options: dns and the network mode"),
    ({"NetworkMode": "container:x", "ExtraHosts": ["a:1.2.3.4"]}, {}, InvalidArgument,
     "custom host-to-IP mapping"),
    ({"NetworkMode": "container:x", "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}, {},
     InvalidArgument, "port publishing and the container type network mode"),
    ({"NetworkMode": "container:x"}, {"ExposedPorts": {"80/tcp": {}}}, InvalidArgument,
     "port exposing and the container type network mode"),
    ({"NetworkMode": "container:x", "Links": ["a:b"]}, {}, InvalidArgument,
     "container type network can't be used with links"),
    ({"NetworkMode": "container:"}, {}, InvalidArgument,
     "invalid container format container:<name|id>"),
    ({"PidMode": "private"}, {}, InvalidArgument, 'invalid HostConfig.PidMode: "private"'),
    ({"IpcMode": "weird"}, {}, InvalidArgument, "invalid IPC mode"),
    ({"UTSMode": "container:x"}, {}, InvalidArgument, "invalid HostConfig.UTSMode"),
    ({"PidMode": "container:"}, {}, InvalidArgument, "no container named"),
    ({"CgroupnsMode": "shared"}, {}, InvalidArgument, "invalid HostConfig.CgroupnsMode"),
    ({"UsernsMode": "private"}, {}, Unsupported, "user namespaces"),
    ({"AutoRemove": True, "RestartPolicy": {"Name": "always"}}, {}, InvalidArgument,
     "can't create 'AutoRemove' container with restart policy"),
    ({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}, {}, Unsupported,
     "could not select device driver"),
    ({"OomScoreAdj": 1001}, {}, InvalidArgument,
     r"Invalid value 1001, range for oom score adj is \[-1000, 1000\]"),
    ({"CgroupParent": "../escape"}, {}, InvalidArgument, "invalid HostConfig.CgroupParent"),
    ({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"}, {}, InvalidArgument,
     "not allowed in the hosts network namespace"),
])
def test_conflicts(rootfs: Path, host_config: dict[str, Any], body: dict[str, Any],
                   error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        build(rootfs, host_config, **body)


def test_cgroup_parent(rootfs: Path) -> None:
    assert build(rootfs, {"CgroupParent": "mine"}).spec["linux"]["cgroupsPath"] == \
        f"/mine/{CID}"
    assert build(rootfs, options={"cgroup_parent": "/daemon"}).spec["linux"][
        "cgroupsPath"] == f"/daemon/{CID}"


def test_domainname_tty_and_sysctls(rootfs: Path) -> None:
    built = build(rootfs, {"Sysctls": {"net.core.somaxconn": "1024"}}, Hostname="web",
                  Domainname="example.org", Tty=True)
    assert (built.spec["hostname"], built.spec["domainname"]) == ("web", "example.org")
    assert built.spec["process"]["terminal"] is True
    assert "TERM=xterm" in built.spec["process"]["env"]
    sized = build(rootfs, {"ConsoleSize": [24, 80]}, Tty=True).spec["process"]
    assert sized["consoleSize"] == {"height": 24, "width": 80}
    assert "consoleSize" not in build(rootfs, {"ConsoleSize": [24, 80]}).spec["process"]
    assert built.spec["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}


def test_devices_in_spec(rootfs: Path) -> None:
    built = build(rootfs, {"Devices": [{"PathOnHost": "/dev/null",
                                        "PathInContainer": "/dev/xnull"}],
                           "DeviceCgroupRules": ["c 42:* rmw"]})
    linux = built.spec["linux"]
    assert linux["devices"][0]["path"] == "/dev/xnull"
    rules = linux["resources"]["devices"]
    assert rules[0] == {"allow": False, "type": "a", "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 42, "access": "rmw"} in rules
    assert {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"} in rules


def test_hooks_pass_through(rootfs: Path) -> None:
    hook = {"path": "/usr/sbin/ip", "args": ["ip", "link", "set", "lo", "up"]}
    spec = build(rootfs, options={"hooks": {"createRuntime": [hook]}}).spec
    assert spec["hooks"] == {"createRuntime": [hook]}
    with pytest.raises(InvalidArgument, match="hooks"):
        build(rootfs, options={"hooks": {"createRuntime": [{"args": ["x"]}]}})


def test_annotations_reach_the_spec(rootfs: Path) -> None:
    spec = build(rootfs, {"Annotations": {"org.example.k": "v"}}).spec
    assert spec["annotations"] == {"org.example.k": "v"}


def test_masked_paths_override(rootfs: Path) -> None:
    linux = build(rootfs, {"MaskedPaths": ["/proc/x"], "ReadonlyPaths": []}).spec["linux"]
    assert linux["maskedPaths"] == ["/proc/x"] and linux["readonlyPaths"] == []


def test_default_init_and_explicit_false(rootfs: Path, tmp_path: Path) -> None:
    opts = {"init_path": str(tmp_path), "default_init": True}
    assert build(rootfs, options=opts).spec["process"]["args"][0] == "/sbin/docker-init"
    assert build(rootfs, {"Init": False}, options=opts).spec["process"]["args"] == ["sh"]
    with pytest.raises(FailedPrecondition, match="init binary"):
        build(rootfs, options={"default_init": True})


# -- security options -------------------------------------------------------------------------

def test_security_opts(rootfs: Path) -> None:
    spec = build(rootfs, {"SecurityOpt": ["no-new-privileges", "seccomp=unconfined",
                                          "apparmor=unconfined", "label=disable"]}).spec
    assert spec["process"]["noNewPrivileges"] is True
    assert "seccomp" not in spec["linux"]
    spec = build(rootfs, {"SecurityOpt": ["no-new-privileges:false", "systempaths=unconfined",
                                          "writable-cgroups=true"]}).spec
    assert spec["process"]["noNewPrivileges"] is False
    assert "maskedPaths" not in spec["linux"]
    m = {x["destination"]: x for x in spec["mounts"]}
    assert "ro" not in m["/sys/fs/cgroup"]["options"] and "ro" in m["/sys"]["options"]


def test_daemon_default_no_new_privileges(rootfs: Path) -> None:
    opts = {"no_new_privileges": True}
    assert build(rootfs, options=opts).spec["process"]["noNewPrivileges"] is True
    spec = build(rootfs, {"SecurityOpt": ["no-new-privileges=false"]}, options=opts).spec
    assert spec["process"]["noNewPrivileges"] is False


def test_custom_seccomp_profile_text(rootfs: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    spec = build(rootfs, {"SecurityOpt": [f"seccomp={json.dumps(profile)}"]}).spec
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"


@pytest.mark.parametrize(("option", "error", "message"), [
    ("apparmor=docker-default", Unsupported, "no AppArmor support"),
    ("label=type:svirt_t", Unsupported, "no SELinux support"),
    ("no-new-privileges=maybe", InvalidArgument, "invalid boolean"),
    ("bogus=1", InvalidArgument, 'invalid --security-opt 1: "bogus=1"'),
    ("justaword", InvalidArgument, 'Invalid --security-opt: "justaword"'),
    ("seccomp={not json", InvalidArgument, "not valid JSON"),
    ("systempaths=confined", InvalidArgument, "systempaths"),
])
def test_security_opt_errors(rootfs: Path, option: str, error: type[Exception],
                             message: str) -> None:
    with pytest.raises(error, match=message):
        build(rootfs, {"SecurityOpt": [option]})


def test_user_and_group_add(rootfs: Path) -> None:
    (rootfs / "etc/passwd").write_text("u:x:7:8::/home/u:/bin/sh\n")
    (rootfs / "etc/group").write_text("g:x:8:\nvideo:x:44:\n")
    built = build(rootfs, {"GroupAdd": ["video", "99"]}, User="u", Env=["HOME=/custom"])
    assert built.spec["process"]["user"] == {"uid": 7, "gid": 8, "additionalGids": [8, 44, 99]}
    assert "HOME=/custom" in built.spec["process"]["env"]
    assert built.user.name == "u"


def test_rebuild_from_stored_record(rootfs: Path) -> None:
    # The daemon stores the merged Config (generated Hostname, the image's ExposedPorts)
    # and rebuilds the spec from it at every start: no create-time conflict on rebuild.
    body = {"Cmd": ["sh"], "Hostname": CID[:12], "ExposedPorts": {"80/tcp": {}},
            "HostConfig": {"NetworkMode": "container:db", "UTSMode": ""}}
    request = parse_create_request(body)
    with pytest.raises(InvalidArgument, match="conflicting options"):
        build_spec(request, image_config({}), SpecOptions(
            rootfs=str(rootfs), container_id=CID, host=HOST,
            namespace_resolver=lambda kind, ref: "/proc/1/ns/net"))
    built = build_spec(request, image_config({}), SpecOptions(
        rootfs=str(rootfs), container_id=CID, host=HOST, recheck_request=False,
        namespace_resolver=lambda kind, ref: "/proc/1/ns/net"))
    assert namespaces(built)["network"] == "/proc/1/ns/net"


def test_merge_names_host_network_containers_after_the_host() -> None:
    from cove.engine.ocispec import merge_config

    request = parse_create_request({"Cmd": ["sh"]})
    merged = merge_config(request.config, image_config({}), container_id=CID,
                          network_mode="host", host_hostname="box")
    assert merged.hostname == "box"


def test_missing_working_dir_is_made_inside_the_rootfs(rootfs: Path, tmp_path: Path) -> None:
    import os

    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), rootfs / "app")  # an image's absolute symlink to a host path
    build(rootfs, WorkingDir="/app/data/x")
    assert (rootfs / str(outside).lstrip("/") / "data/x").is_dir()
    assert not (outside / "data").exists()
    (rootfs / "file").write_text("")
    with pytest.raises(InvalidArgument, match="not a directory"):
        build(rootfs, WorkingDir="/file/sub")


def test_volumes_resolved_by_the_volume_service() -> None:
    from cove.engine.ocispec.mounts import ExtraVolume, user_mounts
    from cove.engine.ocispec.request import parse_create_request
    host = parse_create_request({"Image": "x", "HostConfig": {
        "Binds": ["vol:/data:ro,nocopy"],
        "Mounts": [{"Type": "volume", "Source": "v2", "Target": "/m"}]}}).host_config
    out = user_mounts(host, volume_source=lambda dest: f"/vols{dest}",
                      extra=[ExtraVolume("/anon", "/vols/anon"), ExtraVolume("/m", "/other")])
    by_dest = {m["destination"]: m for m in out.mounts}
    assert by_dest["/data"] == {"destination": "/data", "type": "bind",
                                "source": "/vols/data", "options": ["rbind", "rprivate", "ro"]}
    assert by_dest["/m"]["source"] == "/vols/m"  # the request's own mount wins
    assert by_dest["/anon"]["source"] == "/vols/anon"
    assert out.missing_bind_sources == []
    with pytest.raises(InvalidArgument, match="invalid mode"):
        user_mounts(parse_create_request({"Image": "x", "HostConfig": {
            "Binds": ["/host:/data:nocopy"]}}).host_config, volume_source=lambda d: d)
