"""Turn a create request and an image config into an OCI runtime spec (see the package
docstring for the whole story)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cove.engine.ocispec import devices as D
from cove.engine.ocispec.capabilities import container_capabilities
from cove.engine.ocispec.host import HostInfo
from cove.engine.ocispec.image_config import ImageConfig
from cove.engine.ocispec.merge import DEFAULT_PATH, MergedConfig, merge_config, merge_env
from cove.engine.ocispec.mounts import (
    DEFAULT_SHM_SIZE,
    INIT_PATH,
    default_mounts,
    user_mounts,
)
from cove.engine.ocispec.namespaces import NamespaceResolver, build_namespaces, parse_modes
from cove.engine.ocispec.request import CreateRequest, HostConfig
from cove.engine.ocispec.resources import build_resources, build_rlimits, check_oom_score_adj
from cove.engine.ocispec.seccomp_profile import custom_seccomp, default_seccomp
from cove.engine.ocispec.security_opts import parse_security_opts
from cove.engine.ocispec.sysctls import check_sysctls
from cove.engine.ocispec.users import ResolvedUser, resolve_user
from cove.errors import FailedPrecondition, InvalidArgument, Unsupported
from cove.oci.runtime_config import validate_config
from cove.runtime.securejoin import mkdir_all_in_root

__all__ = ["MASKED_PATHS", "READONLY_PATHS", "BuiltSpec", "SpecOptions", "build_spec",
           "check_request"]

OCI_VERSION = "1.2.0"
# Docker's defaults (moby oci.DefaultLinuxSpec).
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass(frozen=True)
class SpecOptions:
    """What the daemon knows that the request does not.

    ``cgroup_parent`` is where container cgroups go unless the request names a
    CgroupParent; the spec's cgroupsPath is ``<parent>/<container_id>``. The three
    ``*_path`` files are bind-mounted at /etc/hostname, /etc/hosts, /etc/resolv.conf
    when given. ``init_path`` is the host's init binary (tini) for ``Init``;
    ``default_init`` is the daemon's ``--init``. ``shm_path``: a host directory to
    bind at /dev/shm (IpcMode shareable) instead of a private tmpfs.
    ``host``: None probes this host (the daemon should probe once and pass it).
    ``no_new_privileges``: the daemon's default (dockerd --no-new-privileges); a
    ``no-new-privileges[=bool]`` security option overrides it.
    ``hooks``: OCI hooks by kind ("createRuntime", "poststop", ...) copied into the
    spec, e.g. the network setup that brings up the container's loopback.
    ``recheck_request``: False when the request is rebuilt from a stored record that
    passed :func:`check_request` at create: its merged Config holds the image's
    ExposedPorts and the generated Hostname, which the create-time conflict rules
    (hostname vs. UTSMode/NetworkMode, ports vs. a container network) would misread.
    """

    rootfs: str
    container_id: str
    cgroup_parent: str = "/cove"
    hostname_path: str | None = None
    hosts_path: str | None = None
    resolv_conf_path: str | None = None
    init_path: str | None = None
    default_init: bool = False
    shm_path: str | None = None
    namespace_resolver: NamespaceResolver | None = None
    host: HostInfo | None = None
    recheck_request: bool = True
    hooks: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
    # The network namespace the daemon made and configured for the container (its
    # networks' endpoints are in it before the container starts); None: a new one.
    network_namespace: str | None = None
    no_new_privileges: bool = False


@dataclass(frozen=True)
class BuiltSpec:
    spec: dict[str, Any]  # the OCI config.json, validated
    config: MergedConfig  # the merged ContainerConfig (inspect's Config)
    user: ResolvedUser
    capabilities: tuple[str, ...]
    created_bind_sources: tuple[str, ...] = field(default=())


def check_request(request: CreateRequest) -> None:
    """Docker's create-time rules across fields that need neither the image nor the host:
    value checks, and conflicts between what the request itself names (a Hostname with
    UTSMode host, ports with a container network mode...)."""
    _check_values(request)
    _check_conflicts(request)


def _check_values(request: CreateRequest) -> None:
    h = request.host_config
    if h.auto_remove and h.restart_policy.name.value != "no":
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    if h.shm_size < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if h.device_requests:
        # Docker's message when no device driver (e.g. nvidia) is registered.
        raise Unsupported('could not select device driver "" with capabilities: [[gpu]] '
                          "(Cove has no device drivers for DeviceRequests)")
    for key in h.annotations:
        if not key:
            raise InvalidArgument("invalid HostConfig.Annotations: empty key")
    check_oom_score_adj(h.oom_score_adj)


def _check_conflicts(request: CreateRequest) -> None:
    h = request.host_config
    if request.config.hostname:
        if h.uts_mode == "host":
            raise InvalidArgument("conflicting options: hostname and the UTS mode")
        if h.network_mode.startswith("container:"):
            raise InvalidArgument("conflicting options: hostname and the network mode")
    if h.network_mode.startswith("container:"):
        # The joined container owns the network setup (Docker's messages).
        if h.links:
            raise InvalidArgument("conflicting options: container type network can't be "
                                  "used with links. This would result in undefined behavior")
        if h.dns:
            raise InvalidArgument("conflicting options: dns and the network mode")
        if h.extra_hosts:
            raise InvalidArgument("conflicting options: custom host-to-IP mapping and the "
                                  "network mode")
        if request.config.mac_address:
            raise InvalidArgument("conflicting options: mac-address and the network mode")
        if h.port_bindings or h.publish_all_ports:
            raise InvalidArgument("conflicting options: port publishing and the container "
                                  "type network mode")
        if request.config.exposed_ports:
            raise InvalidArgument("conflicting options: port exposing and the container type "
                                  "network mode")


def _cgroups_path(h: HostConfig, options: SpecOptions) -> str:
    parent = h.resources.cgroup_parent or options.cgroup_parent
    cleaned = posixpath.normpath("/" + parent.lstrip("/"))
    if ".." in parent.split("/"):
        raise InvalidArgument(f'invalid HostConfig.CgroupParent: "{parent}" (must not '
                              'contain "..")')
    return posixpath.join(cleaned, options.container_id)


def _process_env(merged: MergedConfig, tty: bool, user: ResolvedUser) -> list[str]:
    # Docker's container environment: PATH, HOSTNAME, TERM (with a tty) first, then the
    # merged Config.Env overriding by key; runc's HOME from the user's passwd entry.
    base = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={merged.hostname}"]
    if tty:
        base.append("TERM=xterm")
    env = list(merge_env(tuple(base), merged.env, "Env"))
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    return env


def build_spec(request: CreateRequest, image: ImageConfig, options: SpecOptions) -> BuiltSpec:
    """The OCI runtime spec of one container.

    Raises ``InvalidArgument`` (bad or conflicting values, Docker's wording where it has
    one), ``Unsupported`` (named volumes, user namespaces, AppArmor/SELinux labels) or
    ``FailedPrecondition`` (Init without an init binary). Everything is checked before
    anything is made: the side effects Docker has (missing host directories of
    ``Binds``, a missing WorkingDir inside the rootfs) happen after the spec has passed
    the OCI validator.
    """
    _check_values(request)
    if options.recheck_request:
        _check_conflicts(request)
    h = request.host_config
    host = options.host or HostInfo.probe()
    merged = merge_config(request.config, image, container_id=options.container_id,
                          network_mode=h.network_mode, host_hostname=host.hostname)
    security = parse_security_opts(h.security_opt)
    modes = parse_modes(h.pid_mode, h.ipc_mode, h.uts_mode, h.network_mode, h.cgroupns_mode,
                        h.userns_mode)
    caps = container_capabilities(h.cap_add, h.cap_drop, privileged=h.privileged,
                                  cap_last_cap=host.cap_last_cap,
                                  bounding=host.bounding_caps)
    user = resolve_user(options.rootfs, merged.user, h.group_add)

    argv = list(merged.argv)
    init = h.init if h.init is not None else options.default_init
    if init:
        if not options.init_path:
            raise FailedPrecondition("Init was asked for but the daemon has no init binary "
                                     "(docker-init/tini)")
        argv = [INIT_PATH, "--", *argv]

    resources = build_resources(h.resources, host)
    if h.privileged:
        device_nodes = D.host_devices(host.dev_root)
        device_rules = [D.rule("a", None, None, "rwm")]
    else:
        device_nodes, mapped_rules = D.mapped_devices(h.resources.devices)
        device_rules = [D.rule("a", None, None, "rwm", allow=False),
                        *(D.rule(*r) for r in D.DEFAULT_DEVICE_RULES), *mapped_rules,
                        *(D.device_cgroup_rule(text, i)
                          for i, text in enumerate(h.resources.device_cgroup_rules))]
    resources["devices"] = device_rules

    sysctl = check_sysctls(h.sysctls, own_netns=modes.network != "host",
                           own_ipcns=modes.ipc != "host")
    writable_cgroups = (h.privileged if security.writable_cgroups is None
                        else security.writable_cgroups)
    mounts = default_mounts(privileged=h.privileged, writable_cgroups=writable_cgroups,
                            shm_size=h.shm_size or DEFAULT_SHM_SIZE,
                            shm_path=options.shm_path, ipc_none=modes.ipc_none,
                            ipc_host=modes.ipc == "host")
    for dest, source in (("/etc/resolv.conf", options.resolv_conf_path),
                         ("/etc/hostname", options.hostname_path),
                         ("/etc/hosts", options.hosts_path)):
        if source:
            mounts.append({"destination": dest, "type": "bind", "source": source,
                           "options": ["rbind", "rprivate"]})
    if init and options.init_path:
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": options.init_path,
                       "options": ["bind", "ro", "nosuid", "nodev"]})
    extra = user_mounts(h)
    # A user mount replaces a default one at the same place (e.g. -v /x:/etc/hosts).
    replaced = {u["destination"] for u in extra.mounts}
    mounts = [m for m in mounts if m["destination"] not in replaced] + extra.mounts

    linux: dict[str, Any] = {
        "namespaces": build_namespaces(modes, options.namespace_resolver,
                                       options.network_namespace),
        "resources": resources,
        "cgroupsPath": _cgroups_path(h, options),
    }
    if device_nodes:
        linux["devices"] = device_nodes
    if sysctl:
        linux["sysctl"] = sysctl
    if not h.privileged and not security.unconfined_system_paths:
        linux["maskedPaths"] = list(MASKED_PATHS if h.masked_paths is None
                                    else h.masked_paths)
        linux["readonlyPaths"] = list(READONLY_PATHS if h.readonly_paths is None
                                      else h.readonly_paths)
    if not h.privileged and security.seccomp != "unconfined":
        if security.seccomp == "custom":
            linux["seccomp"] = custom_seccomp(security.seccomp_profile, caps, host.machine)
        else:
            linux["seccomp"] = default_seccomp(caps, host.machine)

    user_obj: dict[str, Any] = {"uid": user.uid, "gid": user.gid}
    if user.additional_gids:
        user_obj["additionalGids"] = list(user.additional_gids)
    process: dict[str, Any] = {
        "terminal": request.config.tty,
        "user": user_obj,
        "args": argv,
        "env": _process_env(merged, request.config.tty, user),
        "cwd": merged.working_dir or "/",
        "capabilities": {"bounding": list(caps), "effective": list(caps),
                         "permitted": list(caps)},
        "rlimits": build_rlimits(h.resources.ulimits, host.nofile_max),
        "noNewPrivileges": (options.no_new_privileges if security.no_new_privileges is None
                            else security.no_new_privileges),
        "oomScoreAdj": h.oom_score_adj,
    }
    height, width = h.console_size
    if request.config.tty and height and width:
        process["consoleSize"] = {"height": height, "width": width}
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": options.rootfs, "readonly": h.readonly_rootfs},
        "mounts": mounts,
        "linux": linux,
    }
    if h.annotations:
        spec["annotations"] = dict(h.annotations)
    if options.hooks:
        spec["hooks"] = {kind: [dict(hook) for hook in hooks]
                         for kind, hooks in options.hooks.items()}
    if modes.uts != "host":
        spec["hostname"] = merged.hostname
        if merged.domainname:
            spec["domainname"] = merged.domainname
    validate_config(spec)
    created = _create_bind_sources(extra.missing_bind_sources)
    if merged.working_dir:
        # Docker creates a missing WorkingDir in the rootfs before starting; the runtime
        # would otherwise fail its chdir. Symlinks in the image resolve inside the rootfs.
        mkdir_all_in_root(options.rootfs, merged.working_dir)
    return BuiltSpec(spec, merged, user, tuple(caps), created)


def _create_bind_sources(paths: list[str]) -> tuple[str, ...]:
    # Docker creates a missing host directory of a -v bind (and --mount with
    # CreateMountpoint); done last so a refused request leaves nothing behind.
    created = []
    for path in paths:
        if not os.path.lexists(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
            created.append(path)
    return tuple(created)
