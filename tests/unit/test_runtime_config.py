"""config.json loading/validation, the ``spec`` template and the ``features`` document.

The hand-written validator is checked three ways: the spec's example bundles, a table of
broken configs each naming the exact field it must blame, and a differential run against
jsonschema over thousands of random mutations (whatever the schema rejects, we must reject;
whatever only we reject must be one of the documented spec MUSTs or cove restrictions).
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import timeit
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from cove.errors import InvalidArgument
from cove.oci import spec_values as V
from cove.oci._config_schema import is_semver
from cove.oci.runtime_config import ConfigError, load_config, validate_config
from cove.oci.runtime_defaults import default_spec, features
from tests.helpers import SPECS, base_config

SCHEMAS = SPECS / "oci-runtime"
EXAMPLES = SCHEMAS / "examples"
GOOD = sorted((EXAMPLES / "good").glob("*.json"))
BAD = sorted((EXAMPLES / "bad").glob("*.json"))


def _schema_validator(name: str) -> Draft4Validator:
    """A draft-04 validator for one shared schema, its relative $refs served from SCHEMAS."""
    registry: Registry[Any] = Registry().with_resources(
        (path.name, Resource.from_contents(json.loads(path.read_text()),
                                           default_specification=DRAFT4))
        for path in SCHEMAS.glob("*.json"))
    return Draft4Validator(json.loads((SCHEMAS / name).read_text()), registry=registry)


@pytest.fixture(scope="module")
def config_schema() -> Draft4Validator:
    return _schema_validator("config-schema.json")


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _write(bundle: Path, text: str | bytes) -> Path:
    bundle.mkdir(parents=True, exist_ok=True)
    target = bundle / "config.json"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text)
    return bundle


# A valid config that sets every field of the schema at least once, so the bad-case table
# and the mutations reach every checker (the examples leave many sections out).
FULL: dict[str, Any] = {
    "ociVersion": "1.2.0-rc.1+build.05",
    "hooks": {name: [{"path": "/usr/bin/hook", "args": ["hook", name], "env": ["A=1"],
                      "timeout": 5}] for name in V.HOOK_NAMES},
    "annotations": {"com.example.key": "value", "empty": ""},
    "hostname": "full",
    "domainname": "example.test",
    "mounts": [
        {"destination": "/data", "type": "none", "source": "/srv/data",
         "options": ["rbind", "idmap"],
         "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
         "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["ridmap", "size=1m"]},
        {"destination": "/proc", "type": "proc", "source": "proc"},
    ],
    "root": {"path": "rootfs", "readonly": True},
    "process": {
        "terminal": True,
        "consoleSize": {"height": 25, "width": 80},
        "cwd": "/",
        "env": ["PATH=/bin", "TERM=xterm"],
        "args": ["sh", "-c", "true"],
        "commandLine": "sh -c true",
        "user": {"uid": 1, "gid": 1, "umask": 18, "additionalGids": [5, 6], "username": "u"},
        "capabilities": {name: ["CAP_KILL"] for name in
                         ("bounding", "permitted", "effective", "inheritable", "ambient")},
        "apparmorProfile": "profile",
        "oomScoreAdj": -500,
        "selinuxLabel": "system_u:system_r:container_t:s0",
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
        "noNewPrivileges": True,
        "scheduler": {"policy": "SCHED_DEADLINE", "nice": -5, "priority": 0,
                      "flags": ["SCHED_FLAG_RESET_ON_FORK"], "runtime": 1, "deadline": 2,
                      "period": 3},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
        "execCPUAffinity": {"initial": "7", "final": "0-3, 7"},
    },
    "linux": {
        "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229,
                     "fileMode": 438, "uid": 0, "gid": 0},
                    {"type": "p", "path": "/dev/fifo"}],
        "netDevices": {"eth0": {"name": "ceth0"}, "ens4": {}},
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/full"},
                       {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"},
                       {"type": "cgroup"}, {"type": "time"}],
        "resources": {
            "unified": {"io.max": "8:0 rbps=1024"},
            "devices": [{"allow": False, "access": "rwm"},
                        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
            "pids": {"limit": 100},
            "blockIO": {
                "weight": 10, "leafWeight": 10,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 60}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
            },
            "cpu": {"cpus": "0-1", "mems": "0", "period": 100000, "quota": 50000,
                    "burst": 1000, "realtimePeriod": 1000000, "realtimeRuntime": 950000,
                    "shares": 1024, "idle": 0},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
            "memory": {"kernel": -1, "kernelTCP": -1, "limit": 536870912,
                       "reservation": 536870912, "swap": 536870912, "swappiness": 0,
                       "disableOOMKiller": False, "useHierarchy": True,
                       "checkBeforeUpdate": False},
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        },
        "cgroupsPath": "/cove/full",
        "rootfsPropagation": "slave",
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "listenerPath": "/run/agent.sock", "listenerMetadata": "meta",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                          "errnoRet": 1,
                          "args": [{"index": 0, "value": 1, "valueTwo": 2,
                                    "op": "SCMP_CMP_MASKED_EQ"}]}],
        },
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "mountLabel": "system_u:object_r:container_file_t:s0",
        "intelRdt": {"closID": "guaranteed", "schemata": ["L3:0=7f0"],
                     "l3CacheSchema": "L3:0=7f0", "memBwSchema": "MB:0=20",
                     "enableMonitoring": True},
        "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-1", "flags": ["MPOL_F_STATIC_NODES"]},
        "personality": {"domain": "LINUX", "flags": []},
        "timeOffsets": {"monotonic": {"secs": 172800, "nanosecs": 0},
                        "boottime": {"secs": -1, "nanosecs": 5}},
    },
}


# -- examples and loading ----------------------------------------------------------------------

@pytest.mark.parametrize("example", GOOD, ids=lambda p: p.name)
def test_good_examples_load(example: Path, tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, example.read_text()))
    assert cfg == _load_json(example)


@pytest.mark.parametrize("example", BAD, ids=lambda p: p.name)
def test_bad_examples_rejected(example: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"^config\.json: "):
        load_config(_write(tmp_path, example.read_text()))


def test_bad_example_reasons(tmp_path: Path) -> None:
    cases = {
        "invalid-json.json": "config.json: invalid JSON at line 1 column 2: Expecting property "
                             "name enclosed in double quotes",
        "linux-hugepage.json": 'config.json: linux.resources.hugepageLimits[0].pageSize: "64kB" '
                               'is not a huge page size (like "2MB" or "1GB")',
        "linux-netdevice.json": "config.json: linux.netDevices.eth0.name: expected a string, got "
                                "integer 23",
        "linux-rdma.json": "config.json: linux.resources.rdma.mlx5_1.hcaHandles: expected an "
                           'integer, got string "not a uint32"',
    }
    assert sorted(cases) == [p.name for p in BAD]
    for name, message in cases.items():
        with pytest.raises(ConfigError) as info:
            load_config(_write(tmp_path / name, (EXAMPLES / "bad" / name).read_text()))
        assert str(info.value) == message


def test_load_accepts_str_and_path(tmp_path: Path) -> None:
    _write(tmp_path, json.dumps(base_config()))
    assert load_config(tmp_path) == load_config(str(tmp_path)) == base_config()


def test_missing_config_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        load_config(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}/config.json: no such file")


def test_unreadable_config_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "config.json").mkdir()
    with pytest.raises(InvalidArgument, match=f"^{tmp_path}/config.json: cannot read: "):
        load_config(tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ('{"ociVersion": "1.2.0",\n  "root": }', "config.json: invalid JSON at line 2 column 11: "
                                              "Expecting value"),
    ("", "config.json: invalid JSON at line 1 column 1: Expecting value"),
    ('{"ociVersion": NaN}', "config.json: invalid JSON: NaN is not a JSON value"),
    ('{"a": -Infinity}', "config.json: invalid JSON: -Infinity is not a JSON value"),
    (b'{"hostname": "\xff"}', "config.json: invalid JSON: not UTF-8 text (byte 14)"),
    ("[" * 100_000, "config.json: invalid JSON: nested too deeply"),
    ("[]", "config.json: expected an object, got array"),
])
def test_unparsable_config(tmp_path: Path, text: str | bytes, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert str(info.value) == message


def test_full_config_is_valid(config_schema: Draft4Validator) -> None:
    assert config_schema.is_valid(FULL)
    assert validate_config(FULL) is FULL


def test_error_type_and_fields() -> None:
    cfg = copy.deepcopy(FULL)
    cfg["linux"]["namespaces"][2]["type"] = "foo"
    with pytest.raises(InvalidArgument) as info:
        validate_config(cfg)
    err = info.value
    assert isinstance(err, ConfigError)
    assert str(err) == ('config.json: linux.namespaces[2].type: unknown namespace type "foo" '
                        "(one of: cgroup, ipc, mount, network, pid, time, user, uts)")
    assert err.field == "linux.namespaces[2].type"
    assert err.reason.startswith('unknown namespace type "foo"')


# -- the table of broken configs -----------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _walk(doc: Any, path: str) -> tuple[Any, str | int]:
    """The container holding ``path`` ("a.b.0.c") and the last key (ints index lists)."""
    keys: list[str | int] = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = doc
    for key in keys[:-1]:
        node = node[key]
    return node, keys[-1]


def put(path: str, value: Any) -> Mutation:
    def apply(cfg: dict[str, Any]) -> None:
        node, key = _walk(cfg, path)
        node[key] = copy.deepcopy(value)
    return apply


def drop(path: str) -> Mutation:
    def apply(cfg: dict[str, Any]) -> None:
        node, key = _walk(cfg, path)
        del node[key]
    return apply


def append(path: str, value: Any) -> Mutation:
    def apply(cfg: dict[str, Any]) -> None:
        node, key = _walk(cfg, path)
        node[key].append(copy.deepcopy(value))
    return apply


def both(*mutations: Mutation) -> Mutation:
    def apply(cfg: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(cfg)
    return apply


_NO_USER_NS = both(put("linux.namespaces", [{"type": "mount"}, {"type": "time"}]),
                   drop("linux.uidMappings"), drop("linux.gidMappings"))

# (mutation of FULL, the field the error must name, a phrase of its reason)
BAD_CASES: list[tuple[str, Mutation, str, str]] = [
    # ociVersion
    ("version missing", drop("ociVersion"), "ociVersion", "required field is missing"),
    ("version not string", put("ociVersion", 12), "ociVersion",
     "expected a string, got integer 12"),
    ("version not semver", put("ociVersion", "1.0"), "ociVersion", "is not a SemVer 2.0.0"),
    ("version leading zero", put("ociVersion", "1.02.0"), "ociVersion", "is not a SemVer"),
    # root
    ("root missing", drop("root"), "root", "required field is missing"),
    ("root path missing", drop("root.path"), "root.path", "required field is missing"),
    ("root path type", put("root.path", 5), "root.path", "expected a string"),
    ("root readonly type", put("root.readonly", "yes"), "root.readonly", "expected a boolean"),
    # mounts
    ("mounts not array", put("mounts", {}), "mounts", "expected an array, got object"),
    ("mount destination missing", drop("mounts.2.destination"), "mounts[2].destination",
     "required field is missing"),
    ("mount destination relative", put("mounts.1.destination", "tmp"),
     "mounts[1].destination", '"tmp" is not an absolute path'),
    ("mount options type", put("mounts.2.options", ["ro", 1]), "mounts[2].options[1]",
     "expected a string, got integer 1"),
    ("mount gidMappings missing", drop("mounts.0.gidMappings"), "mounts[0].gidMappings",
     "required when uidMappings is set"),
    ("mount mapping size", put("mounts.0.uidMappings.0.size", -1),
     "mounts[0].uidMappings[0].size", "-1 is out of range for uint32"),
    ("mount mapping hostID missing", drop("mounts.0.gidMappings.0.hostID"),
     "mounts[0].gidMappings[0].hostID", "required field is missing"),
    ("idmap without mappings or userns", _NO_USER_NS, "mounts[1].options[0]",
     '"ridmap" needs uidMappings and gidMappings on the mount or a user namespace'),
    # process
    ("process not object", put("process", []), "process", "expected an object, got array"),
    ("cwd missing", drop("process.cwd"), "process.cwd", "required field is missing"),
    ("cwd relative", put("process.cwd", "tmp"), "process.cwd", "is not an absolute path"),
    ("args missing", drop("process.args"), "process.args", "required field is missing"),
    ("args empty", put("process.args", []), "process.args", "must have at least 1 entry"),
    ("args item type", put("process.args", ["sh", 5]), "process.args[1]",
     "expected a string, got integer 5"),
    ("env not array", put("process.env", "PATH=/bin"), "process.env", "expected an array"),
    ("terminal type", put("process.terminal", "true"), "process.terminal",
     'expected a boolean, got string "true"'),
    ("consoleSize width missing", drop("process.consoleSize.width"),
     "process.consoleSize.width", "required field is missing"),
    ("uid negative", put("process.user.uid", -1), "process.user.uid",
     "-1 is out of range for uint32 (0 to 4294967295)"),
    ("gid missing", drop("process.user.gid"), "process.user.gid", "required field is missing"),
    ("additionalGids item", put("process.user.additionalGids", ["5"]),
     "process.user.additionalGids[0]", 'expected an integer, got string "5"'),
    ("capabilities set type", put("process.capabilities.bounding", "CAP_KILL"),
     "process.capabilities.bounding", "expected an array"),
    ("oomScoreAdj bool", put("process.oomScoreAdj", True), "process.oomScoreAdj",
     "expected an integer, got boolean true"),
    ("ioPriority class", put("process.ioPriority.class", "IOPRIO_CLASS_X"),
     "process.ioPriority.class", 'unknown I/O priority class "IOPRIO_CLASS_X"'),
    ("ioPriority priority missing", drop("process.ioPriority.priority"),
     "process.ioPriority.priority", "required field is missing"),
    ("scheduler policy missing", drop("process.scheduler.policy"), "process.scheduler.policy",
     "required field is missing"),
    ("scheduler nice range", put("process.scheduler.nice", 2**31), "process.scheduler.nice",
     "out of range for int32"),
    ("scheduler flag", put("process.scheduler.flags", ["RESET"]),
     "process.scheduler.flags[0]", 'unknown scheduler flag "RESET"'),
    ("rlimit duplicate", put("process.rlimits.1.type", "RLIMIT_NOFILE"),
     "process.rlimits[1].type", 'duplicate resource limit "RLIMIT_NOFILE" (also at [0])'),
    ("rlimit name", put("process.rlimits.0.type", "NOFILE"), "process.rlimits[0].type",
     '"NOFILE" is not a resource limit name'),
    ("rlimit soft float", put("process.rlimits.0.soft", 1.0), "process.rlimits[0].soft",
     "expected an integer, got number 1.0"),
    ("rlimit hard missing", drop("process.rlimits.1.hard"), "process.rlimits[1].hard",
     "required field is missing"),
    ("rlimit hard too big", put("process.rlimits.0.hard", 2**64), "process.rlimits[0].hard",
     "out of range for uint64"),
    ("cpu affinity", put("process.execCPUAffinity.final", "all"),
     "process.execCPUAffinity.final", '"all" is not a CPU list'),
    # hostname, domainname
    ("hostname type", put("hostname", 1), "hostname", "expected a string, got integer 1"),
    ("domainname null", put("domainname", None), "domainname", "expected a string, got null"),
    # hooks
    ("hooks not object", put("hooks", []), "hooks", "expected an object"),
    ("hook path missing", drop("hooks.prestart.0.path"), "hooks.prestart[0].path",
     "required field is missing"),
    ("hook path relative", put("hooks.createRuntime.0.path", "hook.sh"),
     "hooks.createRuntime[0].path", '"hook.sh" is not an absolute path'),
    ("hook timeout zero", put("hooks.poststart.0.timeout", 0), "hooks.poststart[0].timeout",
     "0 is out of range: a hook timeout must be at least 1"),
    ("hook env type", put("hooks.poststop.0.env", [{"A": "1"}]), "hooks.poststop[0].env[0]",
     "expected a string, got object"),
    # annotations
    ("annotation empty key", put("annotations", {"": "x"}), 'annotations[""]',
     "keys must not be empty"),
    ("annotation empty key, bad value", put("annotations", {"": 1}), 'annotations[""]',
     "keys must not be empty"),
    ("annotation value type", put("annotations.empty", 1), "annotations.empty",
     "expected a string, got integer 1"),
    ("annotation dotted key", put("annotations", {"com.example.n": 2}),
     'annotations["com.example.n"]', "expected a string"),
    # linux
    ("linux not object", put("linux", 5), "linux", "expected an object, got integer 5"),
    ("namespace type", put("linux.namespaces.2.type", "foo"), "linux.namespaces[2].type",
     'unknown namespace type "foo" (one of: cgroup, ipc, mount, network, pid, time, user, '
     "uts)"),
    ("namespace duplicate", append("linux.namespaces", {"type": "pid"}),
     "linux.namespaces[8].type", 'duplicate namespace type "pid" (also at [0])'),
    ("namespace type missing", put("linux.namespaces.0", {"path": "/proc/1/ns/pid"}),
     "linux.namespaces[0].type", "required field is missing"),
    ("namespace path relative", put("linux.namespaces.1.path", "netns"),
     "linux.namespaces[1].path", "is not an absolute path"),
    ("uid mappings without userns", put("linux.namespaces", [{"type": "mount"}]),
     "linux.uidMappings", "user namespace mappings need a user namespace"),
    ("uid mapping containerID", put("linux.uidMappings.0.containerID", "0"),
     "linux.uidMappings[0].containerID", "expected an integer"),
    ("time offsets without timens",
     put("linux.namespaces", [{"type": "user"}, {"type": "time", "path": "/proc/1/ns/time"}]),
     "linux.timeOffsets", "time offsets need a new time namespace"),
    ("time offsets clock", put("linux.timeOffsets.realtime", {"secs": 1}),
     "linux.timeOffsets.realtime", 'unknown time namespace clock "realtime"'),
    ("time offsets nanosecs", put("linux.timeOffsets.monotonic.nanosecs", -1),
     "linux.timeOffsets.monotonic.nanosecs", "out of range for uint32"),
    ("device type", put("linux.devices.0.type", "x"), "linux.devices[0].type",
     'unknown device type "x" (one of: b, c, p, u)'),
    ("device major missing", drop("linux.devices.0.major"), "linux.devices[0].major",
     'required unless type is "p"'),
    ("device fileMode", put("linux.devices.0.fileMode", 512), "linux.devices[0].fileMode",
     "512 is out of range for a file mode (0 to 511)"),
    ("device path relative", put("linux.devices.1.path", "dev/fifo"), "linux.devices[1].path",
     "is not an absolute path"),
    ("netDevice name", put("linux.netDevices.eth0.name", 23), "linux.netDevices.eth0.name",
     "expected a string, got integer 23"),
    ("memory limit", put("linux.resources.memory.limit", "lots"),
     "linux.resources.memory.limit", 'expected an integer, got string "lots"'),
    ("pids limit missing", put("linux.resources.pids", {}), "linux.resources.pids.limit",
     "required field is missing"),
    ("hugepage size", put("linux.resources.hugepageLimits.0.pageSize", "2mb"),
     "linux.resources.hugepageLimits[0].pageSize", "is not a huge page size"),
    ("blockIO weight", put("linux.resources.blockIO.weight", 70000),
     "linux.resources.blockIO.weight", "out of range for uint16"),
    ("blockIO throttle major", drop("linux.resources.blockIO.throttleReadBpsDevice.0.major"),
     "linux.resources.blockIO.throttleReadBpsDevice[0].major", "required field is missing"),
    ("cgroup device allow", drop("linux.resources.devices.0.allow"),
     "linux.resources.devices[0].allow", "required field is missing"),
    ("cpu quota", put("linux.resources.cpu.quota", 2**63), "linux.resources.cpu.quota",
     "out of range for int64"),
    ("rdma handles", put("linux.resources.rdma.mlx5_1.hcaHandles", "x"),
     "linux.resources.rdma.mlx5_1.hcaHandles", "expected an integer"),
    ("unified value", put("linux.resources.unified", {"io.max": 5}),
     'linux.resources.unified["io.max"]', "expected a string, got integer 5"),
    ("network priority", drop("linux.resources.network.priorities.0.priority"),
     "linux.resources.network.priorities[0].priority", "required field is missing"),
    ("seccomp default missing", drop("linux.seccomp.defaultAction"),
     "linux.seccomp.defaultAction", "required field is missing"),
    ("seccomp action", put("linux.seccomp.syscalls.0.action", "SCMP_ACT_NOPE"),
     "linux.seccomp.syscalls[0].action", 'unknown seccomp action "SCMP_ACT_NOPE"'),
    ("seccomp names empty", put("linux.seccomp.syscalls.0.names", []),
     "linux.seccomp.syscalls[0].names", "must have at least 1 entry"),
    ("seccomp operator", put("linux.seccomp.syscalls.0.args.0.op", "EQ"),
     "linux.seccomp.syscalls[0].args[0].op", 'unknown seccomp operator "EQ"'),
    ("seccomp arch", put("linux.seccomp.architectures.1", "x86_64"),
     "linux.seccomp.architectures[1]", 'unknown seccomp architecture "x86_64"'),
    ("seccomp flag", put("linux.seccomp.flags", ["TSYNC"]), "linux.seccomp.flags[0]",
     'unknown seccomp flag "TSYNC"'),
    ("seccomp metadata without path", drop("linux.seccomp.listenerPath"),
     "linux.seccomp.listenerMetadata", "must not be set without listenerPath"),
    ("rootfs propagation", put("linux.rootfsPropagation", "rshared"),
     "linux.rootfsPropagation", 'unknown rootfs propagation "rshared"'),
    ("sysctl type", put("linux.sysctl", ["a"]), "linux.sysctl", "expected an object"),
    ("masked path relative", put("linux.maskedPaths.0", "proc/kcore"), "linux.maskedPaths[0]",
     '"proc/kcore" is not an absolute path'),
    ("readonly paths type", put("linux.readonlyPaths", "/proc/sys"), "linux.readonlyPaths",
     "expected an array"),
    ("intelRdt memBw", put("linux.intelRdt.memBwSchema", "L3:0=f"),
     "linux.intelRdt.memBwSchema", "is not a memory bandwidth schema"),
    ("memoryPolicy mode", put("linux.memoryPolicy.mode", "MPOL_X"), "linux.memoryPolicy.mode",
     'unknown memory policy mode "MPOL_X"'),
    ("personality domain missing", drop("linux.personality.domain"),
     "linux.personality.domain", "required field is missing"),
    # other platforms' sections
    ("windows type", put("windows", []), "windows", "expected an object, got array"),
]


def test_bad_cases_cover_every_top_level_section() -> None:
    properties = _load_json(SCHEMAS / "config-schema.json")["properties"]
    blamed = {field.split(".")[0].split("[")[0] for _, _, field, _ in BAD_CASES}
    platforms = {"solaris", "vm", "zos", "freebsd"}  # no schema files shipped to compare with
    assert set(properties) - platforms <= blamed
    assert len(BAD_CASES) >= 30


@pytest.mark.parametrize(("name", "mutate", "field", "phrase"), BAD_CASES,
                         ids=[c[0] for c in BAD_CASES])
def test_bad_config_names_the_field(name: str, mutate: Mutation, field: str,
                                    phrase: str) -> None:
    cfg = copy.deepcopy(FULL)
    mutate(cfg)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    err = info.value
    assert err.field == field, str(err)
    assert str(err).startswith(f"config.json: {field}: "), str(err)
    assert phrase in err.reason, str(err)


@pytest.mark.parametrize(("name", "mutate"), [
    ("unknown top-level key", put("x-vendor", {"anything": [1]})),
    ("unknown nested key", put("process.user.x-extra", 1)),
    ("fifo device without numbers", put("linux.devices", [{"type": "p", "path": "/dev/f"}])),
    ("idmap with userns, no mount mappings",
     both(drop("mounts.0.uidMappings"), drop("mounts.0.gidMappings"))),
    ("relative cgroupsPath", put("linux.cgroupsPath", "cove/x")),
    ("empty mapping arrays without userns",
     both(_NO_USER_NS, drop("mounts"), put("linux.uidMappings", []))),
    ("joined user namespace with mappings", put("linux.namespaces.5.path", "/proc/1/ns/user")),
    ("semver with prerelease and build", put("ociVersion", "0.5.0-dev")),
    ("process without user", drop("process.user")),
    ("no process at all", drop("process")),
], ids=lambda v: v if isinstance(v, str) else "")
def test_valid_variants_accepted(config_schema: Draft4Validator, name: str,
                                 mutate: Mutation) -> None:
    cfg = copy.deepcopy(FULL)
    mutate(cfg)
    assert config_schema.is_valid(cfg)
    assert validate_config(cfg) is cfg


def test_other_platform_sections_ignored() -> None:
    # Not compared with jsonschema: their schema files are not in the shared specs.
    cfg = {**FULL, "solaris": {"milestone": "x"}, "windows": {"layerFolders": []}}
    assert validate_config(cfg) is cfg


@pytest.mark.parametrize(("version", "valid"), [
    ("1.2.0", True), ("0.5.0-dev", True), ("1.0.0-rc.1", True), ("1.0.0-0.3.7", True),
    ("1.0.0-x.7.z.92", True), ("1.0.0+20130313144700", True), ("1.0.0-beta+exp.sha.5114f85", True),
    ("1.0.0+21AF26D3----117B344092BD", True), ("10.20.30", True), ("1.0.0-alpha-a.b-c", True),
    ("1.0.0+build.01", True),
    ("1.0", False), ("1", False), ("1.0.0.0", False), ("01.0.0", False), ("1.0.00", False),
    ("1.0.0-", False), ("1.0.0+", False), ("1.0.0-01", False), ("1.0.0-a..b", False),
    ("1.0.0-a_b", False), ("v1.0.0", False), (" 1.0.0", False), ("1.0.0\n", False),
    ("\u0661.0.0", False), ("", False), ("1.0.0+a+b", False),
])
def test_semver(version: str, valid: bool) -> None:
    assert is_semver(version) is valid


# -- differential test against jsonschema --------------------------------------------------------

# Where we reject what config-schema.json accepts. Each entry must be a spec MUST/REQUIRED
# the schema cannot express, or a value cove does not support (config.md "Valid values":
# a runtime MAY support a subset and MUST generate an error for unsupported values).
STRICTER_THAN_SCHEMA: dict[str, Callable[[ConfigError], bool]] = {
    # config.md: ociVersion "MUST be in SemVer v2.0.0 format".
    "ociVersion semver": lambda e: e.field == "ociVersion" and "SemVer" in e.reason,
    # config.md: root "On all other platforms [than Windows], this field is REQUIRED."
    "root required": lambda e: e.field == "root" and "missing" in e.reason,
    # config.md: process.cwd, hook paths, namespace paths, masked/readonly paths "MUST be"
    # absolute, devices[].path is the "full path"; COVE: mount destinations too (Linux
    # still allows deprecated relative ones, cove does not support them).
    "absolute paths": lambda e: "is not an absolute path" in e.reason,
    # config.md: process.args "at least one entry is REQUIRED (non-Windows)".
    "process.args non-empty": lambda e: e.field == "process.args",
    # config.md POSIX user: "uid (int, REQUIRED)", "gid (int, REQUIRED)".
    "user uid/gid required": lambda e: e.field in ("process.user.uid", "process.user.gid")
    and "missing" in e.reason,
    # config.md: ioPriority "priority (int, REQUIRED)".
    "ioPriority.priority required": lambda e: e.field == "process.ioPriority.priority",
    # config-linux.md: personality "domain (string, REQUIRED)".
    "personality.domain required": lambda e: e.field == "linux.personality.domain"
    and "missing" in e.reason,
    # config.md/config-linux.md: duplicated rlimits / namespaces "MUST generate an error".
    "duplicates": lambda e: e.reason.startswith("duplicate "),
    # config-linux.md: devices "major, minor (int64, REQUIRED unless type is p)".
    "device numbers": lambda e: 'unless type is "p"' in e.reason,
    # config-linux.md: listenerMetadata "MUST NOT be set if listenerPath is not set".
    "seccomp listenerMetadata": lambda e: "without listenerPath" in e.reason,
    # config.md: mount uid/gidMappings "MUST be specified along with" each other.
    "mount mappings paired": lambda e: "Mappings is set" in e.reason,
    # config.md idmap/ridmap: no mount mappings and no user namespace "an error MUST be
    # returned".
    "idmap needs mappings": lambda e: "on the mount or a user namespace" in e.reason,
    # config.md annotations: "Keys MUST NOT be an empty string".
    "annotation keys": lambda e: e.field.startswith("annotations") and "empty" in e.reason,
    # COVE: mappings without a user namespace, offsets without a new time namespace, and
    # clocks other than boottime/monotonic would be silently ignored: unsupported.
    "user mappings need userns": lambda e: "need a user namespace" in e.reason,
    "time offsets need timens": lambda e: "need a new time namespace" in e.reason,
    "time clocks": lambda e: "time namespace clock" in e.reason,
}

_JUNK: tuple[Any, ...] = (None, True, False, 0, -1, 1, 1.5, 1.0, 2**16, 2**31, 2**32, 2**63,
                          2**64, -(2**63) - 1, "", "x", "/abs", "rel/path", [], [1], ["s"], {},
                          {"k": "v"})
_STRINGS: tuple[str, ...] = (
    "", "bogus", "/", "/dev/x", "relative", "pid", "user", "time", "network", "c", "p",
    "RLIMIT_CORE", "RLIMIT_nofile", "2MB", "64kB", "MB:0=1", "L3:0=1", "0-3,7", "a-b",
    "1.2.0", "1.0", "v1.0.0", "SCMP_ACT_KILL", "SCMP_CMP_EQ", "SCMP_ARCH_X86", "private",
    "IOPRIO_CLASS_RT", "SCHED_FIFO", "LINUX32", "idmap", "ridmap", "monotonic", "realtime",
)
_INTS: tuple[int, ...] = (-1, 0, 1, 7, 511, 512, 2**16 - 1, 2**16, 2**31, 2**32 - 1, 2**32,
                          2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**31) - 1, -(2**63))


def _slots(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair in ``doc``, depth first."""
    found: list[tuple[Any, Any]] = []
    pending = [doc]
    while pending:
        node = pending.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node))
        for key in keys:
            found.append((node, key))
            if isinstance(node[key], dict | list):
                pending.append(node[key])
    return found


def _mutate(doc: dict[str, Any], rng: random.Random) -> None:
    """One random edit: drop, retype, edge values, duplicate or empty a container."""
    node, key = rng.choice(_slots(doc))
    value = node[key]
    ops = ["drop", "junk"]
    if isinstance(value, str):
        ops += ["string"] * 3
    if isinstance(value, int) and not isinstance(value, bool):
        ops += ["int"] * 3
    if isinstance(value, list) and value:
        ops += ["duplicate", "empty"]
    if isinstance(value, dict):
        ops += ["empty", "unknown"]
    op = rng.choice(ops)
    if op == "drop":
        del node[key]
    elif op == "junk":
        node[key] = copy.deepcopy(rng.choice(_JUNK))
    elif op == "string":
        node[key] = rng.choice(_STRINGS)
    elif op == "int":
        node[key] = rng.choice(_INTS)
    elif op == "duplicate":
        value.append(copy.deepcopy(rng.choice(value)))
    elif op == "empty":
        value.clear()
    else:
        value["x-unknown"] = rng.choice(_JUNK)


def _seeds() -> list[dict[str, Any]]:
    return [FULL, default_spec(), default_spec(rootless=True), base_config(),
            *(_load_json(p) for p in GOOD)]


def test_differential_against_jsonschema(config_schema: Draft4Validator) -> None:
    rng = random.Random(20240229)
    schema_rejects = stricter = both_accept = 0
    stricter_rules: Counter[str] = Counter()
    for seed in _seeds():
        assert config_schema.is_valid(seed)
        validate_config(seed)
        for _ in range(300):
            doc = copy.deepcopy(seed)
            for _ in range(rng.choice((1, 1, 2))):
                _mutate(doc, rng)
            schema_ok = config_schema.is_valid(doc)
            try:
                validate_config(doc)
            except ConfigError as err:
                if schema_ok:
                    stricter += 1
                    rules = [n for n, match in STRICTER_THAN_SCHEMA.items() if match(err)]
                    assert rules, f"stricter than the schema for no listed reason: {err}"
                    stricter_rules[rules[0]] += 1
                else:
                    schema_rejects += 1
                continue
            # We accepted: the schema must have accepted too.
            assert schema_ok, (
                f"jsonschema rejects what we accept: {json.dumps(doc)[:2000]}\n"
                f"{[e.message for e in config_schema.iter_errors(doc)][:3]}")
            both_accept += 1
    total = schema_rejects + stricter + both_accept
    print(f"\n{total} mutations: {schema_rejects} rejected by both, {both_accept} accepted by "
          f"both, {stricter} rejected only by us: {dict(stricter_rules)}")
    # The mutations must exercise both outcomes, or the test proves nothing.
    assert schema_rejects > total // 4
    assert both_accept > total // 10


# -- speed and imports ---------------------------------------------------------------------------

def test_validation_is_fast() -> None:
    cfg = _load_json(EXAMPLES / "good" / "spec-example.json")
    runs = 200
    seconds = min(timeit.repeat(lambda: validate_config(cfg), number=runs, repeat=3)) / runs
    assert seconds < 0.001, f"{seconds * 1e6:.0f} us per validation"


def test_import_pulls_in_nothing_heavy(tmp_path: Path) -> None:
    _write(tmp_path, json.dumps(base_config()))
    code = ("import sys, json; before = set(sys.modules); import cove.oci.runtime_config as m; "
            f"imported = set(sys.modules) - before; m.load_config({str(tmp_path)!r}); "
            "print(json.dumps([sorted(imported), sorted(set(sys.modules) - before)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": ""}).stdout
    on_import, after_load = json.loads(out)
    assert set(on_import) <= {"__future__", "cove", "cove.errors", "cove.oci", "cove.oci._checks",
                              "cove.oci._config_schema", "cove.oci.spec_values",
                              "cove.oci.runtime_config"}
    assert not {"jsonschema", "typing", "pathlib"} & set(after_load), after_load


# -- spec template and features ------------------------------------------------------------------

@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_is_valid(config_schema: Draft4Validator, rootless: bool) -> None:
    spec = default_spec(rootless=rootless)
    errors = [e.message for e in config_schema.iter_errors(spec)]
    assert errors == []
    assert validate_config(spec) is spec
    assert spec["ociVersion"] == "1.2.0"
    assert spec["process"]["args"] == ["sh"] and spec["process"]["terminal"] is True


def test_default_spec_layout() -> None:
    spec = default_spec()
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert [n["type"] for n in spec["linux"]["namespaces"]] == [
        "pid", "network", "ipc", "uts", "mount", "cgroup"]
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert spec["process"]["capabilities"]["bounding"] == [
        "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert "/proc/sys" in spec["linux"]["readonlyPaths"]
    assert list(spec) == ["ociVersion", "process", "root", "hostname", "mounts", "linux"]


def test_default_spec_rootless() -> None:
    spec = default_spec(rootless=True)
    linux = spec["linux"]
    kinds = [n["type"] for n in linux["namespaces"]]
    assert "user" in kinds and "network" not in kinds
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    assert "resources" not in linux
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount["source"] == "/sys" and "rbind" in sys_mount["options"]
    options = [o for m in spec["mounts"] for o in m.get("options", [])]
    assert not [o for o in options if o.startswith(("uid=", "gid="))]


def test_default_spec_is_fresh_each_time() -> None:
    first = default_spec()
    first["mounts"][0]["destination"] = "/changed"
    first["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    assert default_spec() == default_spec()
    assert default_spec()["mounts"][0]["destination"] == "/proc"
    assert "CAP_SYS_ADMIN" not in default_spec()["process"]["capabilities"]["bounding"]


def test_features_match_schema() -> None:
    doc = features()
    errors = [e.message for e in _schema_validator("features-schema.json").iter_errors(doc)]
    assert errors == []
    assert (doc["ociVersionMin"], doc["ociVersionMax"]) == ("1.0.0", "1.2.0")
    # features.md: "The runtime MUST accept this value as the ociVersion property".
    for version in (doc["ociVersionMin"], doc["ociVersionMax"]):
        validate_config({**FULL, "ociVersion": version})
    # features.md: no property newer than ociVersionMax (netDevices, intelRdt.schemata: 1.3).
    assert "netDevices" not in doc["linux"]
    assert set(doc["linux"]["intelRdt"]) == {"enabled"}
    assert doc["linux"]["cgroup"]["systemd"] is False
    assert doc["linux"]["cgroup"]["systemdUser"] is False
    assert doc["linux"]["apparmor"] == doc["linux"]["selinux"] == {"enabled": False}
    assert set(doc["linux"]["seccomp"]["supportedFlags"]) <= set(
        doc["linux"]["seccomp"]["knownFlags"])


def _schema_enum(file: str, definition: str) -> set[str]:
    return set(_load_json(SCHEMAS / file)["definitions"][definition]["enum"])


def test_value_tables_match_the_schema() -> None:
    """The closed sets the validator enforces and features reports are the schema's."""
    process = _load_json(SCHEMAS / "config-schema.json")["properties"]["process"]["properties"]
    assert set(V.NAMESPACE_TYPES) == _schema_enum("defs-linux.json", "NamespaceType")
    assert set(V.SECCOMP_ACTIONS) == _schema_enum("defs-linux.json", "SeccompAction")
    assert set(V.SECCOMP_OPERATORS) == _schema_enum("defs-linux.json", "SeccompOperators")
    assert set(V.SECCOMP_ARCHS) == _schema_enum("defs-linux.json", "SeccompArch")
    assert set(V.SECCOMP_FLAGS) == _schema_enum("defs-linux.json", "SeccompFlag")
    assert set(V.ROOTFS_PROPAGATIONS) == _schema_enum("defs-linux.json", "RootfsPropagation")
    assert set(V.SCHEDULER_POLICIES) == _schema_enum("defs-linux.json", "SchedulerPolicy")
    assert set(V.SCHEDULER_FLAGS) == _schema_enum("defs-linux.json", "SchedulerFlag")
    assert set(V.MEMORY_POLICY_MODES) == _schema_enum("defs-linux.json", "MemoryPolicyMode")
    assert set(V.MEMORY_POLICY_FLAGS) == _schema_enum("defs-linux.json", "MemoryPolicyFlag")
    assert set(V.PERSONALITY_DOMAINS) == _schema_enum("defs-linux.json", "PersonalityDomain")
    assert set(V.IOPRIO_CLASSES) == set(process["ioPriority"]["properties"]["class"]["enum"])
    hooks = _load_json(SCHEMAS / "config-schema.json")["properties"]["hooks"]["properties"]
    assert list(V.HOOK_NAMES) == list(hooks)


def test_features_agree_with_the_runtime() -> None:
    """features lists what the modules implementing each feature accept."""
    from cove.runtime.mount_options import known_mount_options

    doc = features()
    assert sorted(doc["mountOptions"]) == sorted(known_mount_options())
    try:
        from cove.linux.capabilities import all_capability_names
    except ImportError:
        pass
    else:
        assert doc["linux"]["capabilities"] == all_capability_names()
    seccomp = pytest.importorskip("cove.linux.seccomp")
    assert set(doc["linux"]["seccomp"]["actions"]) == set(seccomp.supported_actions())
    assert set(doc["linux"]["seccomp"]["operators"]) == set(seccomp.supported_operators())
    assert set(doc["linux"]["seccomp"]["supportedFlags"]) == set(seccomp.supported_flags())
    assert set(seccomp.supported_archs()) <= set(doc["linux"]["seccomp"]["archs"])
