"""From a Docker ``POST /containers/create`` body to an OCI runtime spec.

Pure translation for the daemon: nothing is started here. The steps::

    host = HostInfo.probe()                            # once per daemon
    request = parse_create_request(body)               # type-checks every field
    check_request(request)                             # Docker's create-time conflicts
    image = parse_image_config(image_config.get("config"))
    merged = merge_config(request.config, image, container_id=cid,
                          network_mode=request.host_config.network_mode,
                          host_hostname=host.hostname)  # inspect's Config
    built = build_spec(request, image, SpecOptions(
        rootfs=rootfs, container_id=cid, cgroup_parent="/cove",
        hostname_path=..., hosts_path=..., resolv_conf_path=...,
        init_path="/usr/bin/tini", namespace_resolver=resolve, host=host))
    built.spec      # config.json, already validated with cove.oci.runtime_config
    built.config    # the MergedConfig again; built.user, built.capabilities

A spec rebuilt at start from a stored, merged record passes
``SpecOptions(recheck_request=False)`` and an empty image config.
Restart policy and health check are parsed into
``request.host_config.restart_policy`` (:class:`RestartPolicy`) and
``merged.healthcheck`` (:class:`Healthcheck`, durations in ns); ``parse_signal``
and ``signal_name`` convert stop signals (``merged.stop_signal`` is a number).

Errors: ``InvalidArgument`` naming the field and value (Docker's wording where it
has one: "Minimum memory limit allowed is 6MB", "invalid restart policy: ...",
``invalid CapAdd: unknown capability: "CAP_FOO"``); ``Unsupported`` for what
Cove cannot do yet (named volumes, user namespaces, DeviceRequests, AppArmor or
SELinux confinement: ``apparmor=unconfined`` and ``label=disable`` are accepted,
any other ``apparmor=``/``label=`` is refused rather than silently ignored);
``FailedPrecondition`` for Init without an init binary or a CapAdd the daemon
itself lacks. Nothing is made until the whole spec is valid; then the only side
effects are Docker's: a missing host directory of a ``Binds`` entry and a
missing WorkingDir inside the rootfs are created.

What the spec holds, as Docker's does: the 14 default capabilities (bounding,
effective, permitted; never inheritable or ambient) adjusted by
CapAdd/CapDrop/Privileged; Cove's own seccomp profile (``seccomp_default.json``,
capability-aware, ENOSYS for syscalls it does not name, EPERM for those it
refuses) unless privileged, ``seccomp=unconfined`` or a ``seccomp=<JSON>``
profile (Docker's or OCI's format); Docker's masked and read-only paths;
/proc, /dev, /dev/pts, /dev/shm (ShmSize, default 64 MiB), /dev/mqueue, /sys and
/sys/fs/cgroup read-only; the devices cgroup allow-list; RLIMIT_NOFILE 1048576
(or the most the host allows) unless Ulimits names it; private pid, ipc, uts,
mount, network and cgroup namespaces unless a mode says "host" or
"container:<id>" (joined through the daemon's ``namespace_resolver``).
Not yet: named and anonymous volumes (the image's Volumes are ignored),
networks beyond a loopback-only namespace, user namespaces.
"""

from cove.engine.ocispec.builder import (
    MASKED_PATHS,
    READONLY_PATHS,
    BuiltSpec,
    SpecOptions,
    build_spec,
    check_request,
)
from cove.engine.ocispec.capabilities import DEFAULT_CAPABILITIES, container_capabilities
from cove.engine.ocispec.host import HostInfo
from cove.engine.ocispec.image_config import ImageConfig, parse_image_config
from cove.engine.ocispec.merge import DEFAULT_PATH, MergedConfig, merge_config, merge_env
from cove.engine.ocispec.namespaces import NamespaceResolver
from cove.engine.ocispec.policies import (
    Healthcheck,
    RestartPolicy,
    RestartPolicyName,
    parse_healthcheck,
    parse_restart_policy,
)
from cove.engine.ocispec.request import (
    ContainerConfig,
    CreateRequest,
    HostConfig,
    Resources,
    parse_container_config,
    parse_create_request,
)
from cove.engine.ocispec.seccomp_profile import custom_seccomp, default_seccomp
from cove.engine.ocispec.signals import DEFAULT_STOP_SIGNAL, parse_signal, signal_name
from cove.engine.ocispec.users import ResolvedUser, resolve_user

__all__ = [
    "DEFAULT_CAPABILITIES", "DEFAULT_PATH", "DEFAULT_STOP_SIGNAL", "MASKED_PATHS",
    "READONLY_PATHS", "BuiltSpec", "ContainerConfig", "CreateRequest", "Healthcheck",
    "HostConfig", "HostInfo", "ImageConfig", "MergedConfig", "NamespaceResolver",
    "ResolvedUser", "Resources", "RestartPolicy", "RestartPolicyName", "SpecOptions",
    "build_spec", "check_request", "container_capabilities", "custom_seccomp",
    "default_seccomp", "merge_config", "merge_env", "parse_container_config",
    "parse_create_request", "parse_healthcheck", "parse_image_config",
    "parse_restart_policy", "parse_signal", "resolve_user", "signal_name",
]
