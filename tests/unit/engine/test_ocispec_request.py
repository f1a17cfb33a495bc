"""parse_create_request / parse_image_config: every field type-checked, named in errors."""

from __future__ import annotations

from typing import Any

import pytest

from cove.engine.ocispec import parse_create_request, parse_image_config
from cove.errors import InvalidArgument


def test_full_body_parses() -> None:
    req = parse_create_request({
        "Hostname": "h", "Domainname": "d", "User": "app", "Env": ["A=1"], "Cmd": "echo",
        "Entrypoint": ["/bin/sh", "-c"], "WorkingDir": "/w", "Labels": {"a": "b"},
        "StopSignal": "SIGINT", "StopTimeout": 5, "Tty": True, "OpenStdin": True,
        "ExposedPorts": {"80/tcp": {}, "53": {}, "8000-8010/udp": {}},
        "Volumes": {"/data": {}},
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 2_000_000},
        "HostConfig": {
            "Binds": ["/a:/b:ro"], "Memory": 1 << 30, "CapAdd": ["NET_ADMIN"],
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 2}],
            "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                         "CgroupPermissions": "rw"}],
            "Mounts": [{"Type": "tmpfs", "Target": "/t",
                        "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o700,
                                         "Options": [["exec"]]}}],
            "Init": None, "LogConfig": {"Type": "json-file", "Config": {}},
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53": None},
        },
        "NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": ["web"],
                                                             "IPAMConfig": None}}},
    })
    assert req.config.cmd == ("echo",)
    assert req.config.entrypoint == ("/bin/sh", "-c")
    assert req.config.exposed_ports == ("80/tcp", "53", "8000-8010/udp")
    assert req.config.healthcheck is not None
    assert req.config.healthcheck.interval_ns == 2_000_000
    h = req.host_config
    assert h.binds == ("/a:/b:ro",)
    assert h.resources.memory == 1 << 30
    assert h.restart_policy.maximum_retry_count == 3
    assert h.resources.ulimits[0].name == "nofile"
    assert h.resources.devices[0].cgroup_permissions == "rw"
    assert h.mounts[0].tmpfs_mode == 0o700 and h.mounts[0].tmpfs_options == (("exec",),)
    assert h.init is None


@pytest.mark.parametrize(("body", "message"), [
    ([], "invalid request body: [] (must be an object, not array)"),
    ({"Hostname": 5}, "invalid Hostname: 5 (must be a string, not number)"),
    ({"Env": "A=1"}, 'invalid Env: "A=1" (must be an array of strings, not string)'),
    ({"Env": ["A=1", 2]}, "invalid Env[1]: 2 (must be a string, not number)"),
    ({"Cmd": [None]}, "invalid Cmd[0]: null (must be a string, not null)"),
    ({"Tty": "yes"}, 'invalid Tty: "yes" (must be a boolean, not string)'),
    ({"Labels": {"a": 1}}, "invalid Labels[a]: 1 (must be a string, not number)"),
    ({"ExposedPorts": ["80"]}, 'invalid ExposedPorts: ["80"] (must be an object, not array)'),
    ({"HostConfig": []}, "invalid HostConfig: [] (must be an object, not array)"),
    ({"HostConfig": {"Memory": "1g"}},
     'invalid HostConfig.Memory: "1g" (must be an integer, not string)'),
    ({"HostConfig": {"Memory": 1.5}},
     "invalid HostConfig.Memory: 1.5 (must be an integer, not number)"),
    ({"HostConfig": {"Memory": True}},
     "invalid HostConfig.Memory: true (must be an integer, not boolean)"),
    ({"HostConfig": {"Privileged": 1}},
     "invalid HostConfig.Privileged: 1 (must be a boolean, not number)"),
    ({"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "x"}]}},
     'invalid HostConfig.Ulimits[0].Soft: "x" (must be an integer, not string)'),
    ({"HostConfig": {"Mounts": [{"Type": 1}]}},
     "invalid HostConfig.Mounts[0].Type: 1 (must be a string, not number)"),
    ({"HostConfig": {"Mounts": [{"TmpfsOptions": {"Options": [[1]]}}]}},
     "invalid HostConfig.Mounts[0].TmpfsOptions.Options[0]: [1]"),
    ({"HostConfig": {"BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": -1}]}},
     "invalid HostConfig.BlkioDeviceReadBps[0].Rate: -1 (must be >= 0)"),
    ({"HostConfig": {"Sysctls": {"net.x": 1}}},
     "invalid HostConfig.Sysctls[net.x]: 1 (must be a string, not number)"),
    ({"HostConfig": {"RestartPolicy": "always"}},
     'invalid HostConfig.RestartPolicy: "always" (must be an object, not string)'),
    ({"Healthcheck": {"Test": ["CURL"]}}, "invalid Healthcheck.Test"),
    ({"User": "a\x00b"}, "must not contain NUL"),
    ({"HostConfig": {"ConsoleSize": [1]}}, "invalid HostConfig.ConsoleSize: [1]"),
    ({"HostConfig": {"KernelMemory": "x"}}, "invalid HostConfig.KernelMemory"),
    ({"HostConfig": {"DeviceRequests": [{"Capabilities": [["gpu", 1]]}]}},
     "invalid HostConfig.DeviceRequests[0].Capabilities[0]"),
    ({"HostConfig": {"Annotations": {"a": 1}}}, "invalid HostConfig.Annotations[a]: 1"),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}},
     "invalid HostConfig.PortBindings.80/tcp[0].HostPort: 8080"),
    ({"ExposedPorts": {"http": {}}}, 'invalid ExposedPorts: "http" (invalid port '
                                      "specification)"),
    ({"ExposedPorts": {"70000/tcp": {}}}, "invalid port specification"),
    ({"ExposedPorts": {"90-80": {}}}, "invalid port specification"),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "x"}]}}},
     'invalid HostConfig.PortBindings.80/tcp[0].HostPort: "x"'),
    ({"NetworkingConfig": {"EndpointsConfig": {"net": {"Aliases": "a"}}}},
     "invalid NetworkingConfig.EndpointsConfig.net.Aliases"),
    ({"NetworkingConfig": {"EndpointsConfig": {"net": {"IPAMConfig": {"IPv4Address": 1}}}}},
     "invalid NetworkingConfig.EndpointsConfig.net.IPAMConfig.IPv4Address: 1"),
    ({"NetworkingConfig": {"EndpointsConfig": 3}},
     "invalid NetworkingConfig.EndpointsConfig: 3"),
])
def test_type_errors_name_field_and_value(body: Any, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_create_request(body)
    assert message in str(exc.value)


def test_null_is_absent() -> None:
    req = parse_create_request({"Cmd": None, "Env": None, "HostConfig": None})
    assert req.config.cmd is None and req.config.env is None
    assert req.host_config.resources.memory == 0


def test_image_config() -> None:
    image = parse_image_config({"Env": ["A=1"], "Entrypoint": ["/e"], "Cmd": ["c"],
                                "WorkingDir": "/w", "User": "u", "StopSignal": "SIGQUIT",
                                "Healthcheck": {"Test": ["NONE"]},
                                "Labels": {"l": "v"}, "Volumes": {"/v": {}}})
    assert image.entrypoint == ("/e",) and image.cmd == ("c",)
    assert image.healthcheck is not None and image.healthcheck.disabled
    assert parse_image_config(None).env == ()
    with pytest.raises(InvalidArgument, match=r"invalid image config\.Env"):
        parse_image_config({"Env": "x"})


def test_stored_config_round_trip() -> None:
    # The daemon keeps the merged Config in its record and parses it again at start.
    from cove.engine.ocispec import parse_container_config

    config = parse_container_config({"Cmd": ["sh"], "Entrypoint": None, "Env": ["A=1"],
                                     "Hostname": "abc", "Labels": {}}, "record.Config")
    assert (config.cmd, config.entrypoint, config.env) == (("sh",), None, ("A=1",))
    with pytest.raises(InvalidArgument, match=r"invalid record\.Config\.Env"):
        parse_container_config({"Env": 1}, "record.Config")
