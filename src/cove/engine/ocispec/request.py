"""The body of ``POST /containers/create`` as typed values.

:func:`parse_create_request` type-checks every field Cove reads (and the shape of
those it only stores), so later stages work on plain Python values. It checks
each field on its own; rules across fields and against the host are checked by
:func:`cove.engine.ocispec.build_spec`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cove.engine.ocispec._fields import Fields
from cove.engine.ocispec.policies import (
    Healthcheck,
    RestartPolicy,
    healthcheck_from,
    restart_policy_from,
)
from cove.errors import InvalidArgument

__all__ = ["ContainerConfig", "CreateRequest", "DeviceMapping", "HostConfig", "MountRequest",
           "Resources", "ThrottleDevice", "Ulimit", "WeightDevice", "parse_create_request"]


@dataclass(frozen=True)
class ContainerConfig:
    """The ContainerConfig part (top level of the create body)."""

    image: str = ""
    hostname: str = ""
    domainname: str = ""
    user: str = ""
    env: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    stop_timeout: int | None = None
    healthcheck: Healthcheck | None = None
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    network_disabled: bool = False
    args_escaped: bool = False
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] = ()
    mac_address: str = ""


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class DeviceMapping:
    path_on_host: str
    path_in_container: str
    cgroup_permissions: str


@dataclass(frozen=True)
class WeightDevice:
    path: str
    weight: int


@dataclass(frozen=True)
class ThrottleDevice:
    path: str
    rate: int


@dataclass(frozen=True)
class Resources:
    """HostConfig's Resources fields (they sit at the top level of HostConfig)."""

    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    memory_swappiness: int | None = None
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_realtime_period: int = 0
    cpu_realtime_runtime: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    ulimits: tuple[Ulimit, ...] = ()
    oom_kill_disable: bool = False
    blkio_weight: int = 0
    blkio_weight_device: tuple[WeightDevice, ...] = ()
    blkio_device_read_bps: tuple[ThrottleDevice, ...] = ()
    blkio_device_write_bps: tuple[ThrottleDevice, ...] = ()
    blkio_device_read_iops: tuple[ThrottleDevice, ...] = ()
    blkio_device_write_iops: tuple[ThrottleDevice, ...] = ()
    devices: tuple[DeviceMapping, ...] = ()
    device_cgroup_rules: tuple[str, ...] = ()
    cgroup_parent: str = ""


@dataclass(frozen=True)
class MountRequest:
    """One HostConfig.Mounts entry (the ``--mount`` form)."""

    where: str  # "HostConfig.Mounts[2]", for messages
    type: str
    source: str
    target: str
    read_only: bool = False
    propagation: str = ""
    non_recursive: bool = False
    create_mountpoint: bool = False
    read_only_non_recursive: bool = False
    read_only_force_recursive: bool = False
    tmpfs_size: int = 0
    tmpfs_mode: int = 0
    tmpfs_options: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class HostConfig:
    binds: tuple[str, ...] = ()
    mounts: tuple[MountRequest, ...] = ()
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    network_mode: str = ""
    pid_mode: str = ""
    ipc_mode: str = ""
    uts_mode: str = ""
    cgroupns_mode: str = ""
    userns_mode: str = ""
    privileged: bool = False
    readonly_rootfs: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    init: bool | None = None
    shm_size: int = 0
    oom_score_adj: int = 0
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    dns: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    runtime: str = ""
    isolation: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)  # -> spec annotations
    console_size: tuple[int, int] = (0, 0)  # (height, width) of the terminal (Tty)
    device_requests: int = 0  # how many (GPUs and such: none can be served yet)
    port_bindings: tuple[str, ...] = ()  # the "80/tcp" keys; networks come later
    publish_all_ports: bool = False
    links: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class CreateRequest:
    config: ContainerConfig
    host_config: HostConfig
    networking_config: Mapping[str, object] = field(default_factory=dict)


def parse_create_request(body: object) -> CreateRequest:
    """Type-check a decoded create body; raises ``InvalidArgument`` naming the field."""
    top = Fields(body, "")
    config = _container_config(top)
    host = _host_config(top.sub("HostConfig"))
    networking = top.sub("NetworkingConfig")
    _endpoints(networking.sub("EndpointsConfig"))  # shape only: networks come later
    return CreateRequest(config, host, dict(networking.obj))


# "80", "80/tcp", "8000-8010/udp"; a host port is a number or a range, no protocol.
_PORT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(tcp|udp|sctp))?$")
_HOST_PORT = re.compile(r"^\d{1,5}(?:-\d{1,5})?$")


def _check_port(f: Fields, key: str, port: str) -> None:
    m = _PORT.match(port)
    if m is None or not 0 < int(m.group(1)) <= 65535 or (
            m.group(2) is not None and not int(m.group(1)) <= int(m.group(2)) <= 65535):
        raise InvalidArgument(f'invalid {f.name(key)}: "{port}" (invalid port '
                              "specification)")


def _endpoints(endpoints: Fields) -> None:
    for name in endpoints.obj:
        ep = endpoints.sub(name)
        for key in ("NetworkID", "EndpointID", "Gateway", "IPAddress", "IPv6Gateway",
                    "GlobalIPv6Address", "MacAddress"):
            ep.text(key)
        for key in ("Links", "Aliases", "DNSNames"):
            ep.str_list(key)
        ep.str_map("DriverOpts")
        ipam = ep.sub("IPAMConfig")
        ipam.text("IPv4Address")
        ipam.text("IPv6Address")
        ipam.str_list("LinkLocalIPs")


def parse_container_config(obj: object, where: str = "") -> ContainerConfig:
    """A ContainerConfig object on its own (e.g. a stored record)."""
    return _container_config(Fields(obj, where))


def _container_config(f: Fields) -> ContainerConfig:
    env = f.str_list("Env")
    cmd = f.str_list("Cmd", allow_string=True)
    entrypoint = f.str_list("Entrypoint", allow_string=True)
    health = f.opt_sub("Healthcheck")
    for port in f.key_set("ExposedPorts"):
        _check_port(f, "ExposedPorts", port)
    return ContainerConfig(
        image=f.text("Image"),
        hostname=f.text("Hostname"),
        domainname=f.text("Domainname"),
        user=f.text("User"),
        env=None if env is None else tuple(env),
        cmd=None if cmd is None else tuple(cmd),
        entrypoint=None if entrypoint is None else tuple(entrypoint),
        working_dir=f.text("WorkingDir"),
        labels=f.str_map("Labels"),
        stop_signal=f.opt_text("StopSignal"),
        stop_timeout=f.opt_number("StopTimeout"),
        healthcheck=None if health is None else healthcheck_from(health),
        exposed_ports=tuple(f.key_set("ExposedPorts")),
        volumes=tuple(f.key_set("Volumes")),
        tty=f.flag("Tty"),
        open_stdin=f.flag("OpenStdin"),
        stdin_once=f.flag("StdinOnce"),
        attach_stdin=f.flag("AttachStdin"),
        attach_stdout=f.flag("AttachStdout"),
        attach_stderr=f.flag("AttachStderr"),
        network_disabled=f.flag("NetworkDisabled"),
        args_escaped=f.flag("ArgsEscaped"),
        on_build=tuple(f.str_list("OnBuild") or ()),
        shell=tuple(f.str_list("Shell") or ()),
        mac_address=f.text("MacAddress"),
    )


def _host_config(f: Fields) -> HostConfig:
    masked = f.str_list("MaskedPaths")
    readonly = f.str_list("ReadonlyPaths")
    f.sub("LogConfig").str_map("Config")
    f.sub("LogConfig").text("Type")
    ports = f.sub("PortBindings")
    for key in ports.obj:
        _check_port(f, "PortBindings", key)
        for binding in ports.objects(key):
            binding.text("HostIp")
            host_port = binding.text("HostPort")
            if host_port and not _HOST_PORT.match(host_port):
                binding.fail("HostPort", host_port, "invalid port specification")
    f.str_list("VolumesFrom")
    _only_type_checked(f)
    device_requests = list(f.objects("DeviceRequests"))
    for request in device_requests:
        request.text("Driver")
        request.number("Count")
        request.str_list("DeviceIDs")
        request.str_map("Options")
        for i, item in enumerate(request.items("Capabilities")):
            if not isinstance(item, list) or not all(isinstance(c, str) for c in item):
                request.fail(f"Capabilities[{i}]", item, "must be an array of strings")
    return HostConfig(
        binds=tuple(f.str_list("Binds") or ()),
        mounts=tuple(_mount(m) for m in f.objects("Mounts")),
        tmpfs=f.str_map("Tmpfs"),
        network_mode=f.text("NetworkMode"),
        pid_mode=f.text("PidMode"),
        ipc_mode=f.text("IpcMode"),
        uts_mode=f.text("UTSMode"),
        cgroupns_mode=f.text("CgroupnsMode"),
        userns_mode=f.text("UsernsMode"),
        privileged=f.flag("Privileged"),
        readonly_rootfs=f.flag("ReadonlyRootfs"),
        cap_add=tuple(f.str_list("CapAdd") or ()),
        cap_drop=tuple(f.str_list("CapDrop") or ()),
        security_opt=tuple(f.str_list("SecurityOpt") or ()),
        group_add=tuple(f.str_list("GroupAdd") or ()),
        sysctls=f.str_map("Sysctls"),
        init=f.opt_flag("Init"),
        shm_size=f.number("ShmSize"),
        oom_score_adj=f.number("OomScoreAdj"),
        restart_policy=restart_policy_from(f.sub("RestartPolicy")),
        auto_remove=f.flag("AutoRemove"),
        masked_paths=None if masked is None else tuple(masked),
        readonly_paths=None if readonly is None else tuple(readonly),
        dns=tuple(f.str_list("Dns") or ()),
        dns_options=tuple(f.str_list("DnsOptions") or ()),
        dns_search=tuple(f.str_list("DnsSearch") or ()),
        extra_hosts=tuple(f.str_list("ExtraHosts") or ()),
        runtime=f.text("Runtime"),
        isolation=f.text("Isolation"),
        annotations=f.str_map("Annotations"),
        console_size=_console_size(f),
        device_requests=len(device_requests),
        port_bindings=tuple(ports.obj),
        publish_all_ports=f.flag("PublishAllPorts"),
        links=tuple(f.str_list("Links") or ()),
        resources=_resources(f),
    )


def _only_type_checked(f: Fields) -> None:
    # Fields Cove accepts but that change nothing on Linux (Windows-only, deprecated,
    # or for a later issue): still refused when malformed, as Docker's decoder would.
    for key in ("KernelMemory", "KernelMemoryTCP", "CpuCount", "CpuPercent",
                "IOMaximumIOps", "IOMaximumBandwidth"):
        f.number(key)
    for key in ("ContainerIDFile", "VolumeDriver", "Cgroup", "Isolation"):
        f.text(key)
    f.str_map("StorageOpt")
    f.str_list("Capabilities")


def _console_size(f: Fields) -> tuple[int, int]:
    console = f.items("ConsoleSize")
    if not console:
        return (0, 0)
    height, width = [*console, None, None][:2]
    if (len(console) != 2 or not isinstance(height, int) or not isinstance(width, int)
            or isinstance(height, bool) or isinstance(width, bool)
            or not 0 <= height <= 0xFFFF or not 0 <= width <= 0xFFFF):
        f.fail("ConsoleSize", console, "must be [height, width], two integers 0-65535")
    return (height, width)


def _resources(f: Fields) -> Resources:
    return Resources(
        memory=f.number("Memory"),
        memory_swap=f.number("MemorySwap"),
        memory_reservation=f.number("MemoryReservation"),
        memory_swappiness=f.opt_number("MemorySwappiness"),
        nano_cpus=f.number("NanoCpus"),
        cpu_shares=f.number("CpuShares"),
        cpu_period=f.number("CpuPeriod"),
        cpu_quota=f.number("CpuQuota"),
        cpu_realtime_period=f.number("CpuRealtimePeriod"),
        cpu_realtime_runtime=f.number("CpuRealtimeRuntime"),
        cpuset_cpus=f.text("CpusetCpus"),
        cpuset_mems=f.text("CpusetMems"),
        pids_limit=f.opt_number("PidsLimit"),
        ulimits=tuple(Ulimit(u.text("Name"), u.number("Soft"), u.number("Hard"))
                      for u in f.objects("Ulimits")),
        oom_kill_disable=f.flag("OomKillDisable"),
        blkio_weight=f.number("BlkioWeight"),
        blkio_weight_device=tuple(WeightDevice(d.text("Path"), d.number("Weight"))
                                  for d in f.objects("BlkioWeightDevice")),
        blkio_device_read_bps=_throttle(f, "BlkioDeviceReadBps"),
        blkio_device_write_bps=_throttle(f, "BlkioDeviceWriteBps"),
        blkio_device_read_iops=_throttle(f, "BlkioDeviceReadIOps"),
        blkio_device_write_iops=_throttle(f, "BlkioDeviceWriteIOps"),
        devices=tuple(DeviceMapping(d.text("PathOnHost"), d.text("PathInContainer"),
                                    d.text("CgroupPermissions"))
                      for d in f.objects("Devices")),
        device_cgroup_rules=tuple(f.str_list("DeviceCgroupRules") or ()),
        cgroup_parent=f.text("CgroupParent"),
    )


def _throttle(f: Fields, key: str) -> tuple[ThrottleDevice, ...]:
    return tuple(ThrottleDevice(d.text("Path"), d.number("Rate", minimum=0))
                 for d in f.objects(key))


def _mount(f: Fields) -> MountRequest:
    bind = f.sub("BindOptions")
    tmpfs = f.sub("TmpfsOptions")
    f.sub("VolumeOptions")
    options: list[tuple[str, ...]] = []
    for i, item in enumerate(tmpfs.items("Options")):
        key = f"Options[{i}]"
        if (not isinstance(item, list) or not 1 <= len(item) <= 2
                or not all(isinstance(x, str) for x in item)):
            tmpfs.fail(key, item, "must be an array of one or two strings")
        options.append(tuple(item))
    return MountRequest(
        where=f.where,
        type=f.text("Type"),
        source=f.text("Source"),
        target=f.text("Target"),
        read_only=f.flag("ReadOnly"),
        propagation=bind.text("Propagation"),
        non_recursive=bind.flag("NonRecursive"),
        create_mountpoint=bind.flag("CreateMountpoint"),
        read_only_non_recursive=bind.flag("ReadOnlyNonRecursive"),
        read_only_force_recursive=bind.flag("ReadOnlyForceRecursive"),
        tmpfs_size=tmpfs.number("SizeBytes"),
        tmpfs_mode=tmpfs.number("Mode"),
        tmpfs_options=tuple(options),
    )
