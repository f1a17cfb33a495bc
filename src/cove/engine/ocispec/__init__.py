"""From a Docker ``POST /containers/create`` body to an OCI runtime spec.

Pure translation for the daemon: no containers are started here. The steps::

    request = parse_create_request(body)              # type-checks every field
    image = parse_image_config(image_config["config"])
    built = build_spec(request, image, SpecOptions(
        rootfs=rootfs, container_id=cid, cgroup_parent="/cove",
        hostname_path=..., hosts_path=..., resolv_conf_path=...,
        init_path="/usr/bin/tini", namespace_resolver=resolve))
    built.spec      # config.json (validated with cove.oci.runtime_config)
    built.config    # MergedConfig: env, entrypoint/cmd/argv, user, cwd, stop signal,
                    #   healthcheck, labels... (what inspect shows as Config)

``merge_config`` alone gives the merged Config (e.g. at create, for inspect) and
``check_request`` the cross-field rules that need neither image nor host.
Restart policy and health check are parsed into
``request.host_config.restart_policy`` (:class:`RestartPolicy`) and
``built.config.healthcheck`` (:class:`Healthcheck`, durations in ns).
``parse_signal``/``signal_name`` convert stop signals.

Errors: ``InvalidArgument`` naming the field and value (Docker's wording where it
has one: "Minimum memory limit allowed is 6MB", "invalid restart policy: ...",
``invalid CapAdd: unknown capability: "CAP_FOO"``); ``Unsupported`` for what
Cove cannot do yet (named volumes, user namespaces, AppArmor/SELinux
confinement); ``FailedPrecondition`` for Init without an init binary. Nothing
is made until the whole spec is valid; the only side effect is Docker's
creation of a missing host directory for a ``Binds`` entry.

What the spec holds, as Docker's does: the 14 default capabilities (bounding,
effective, permitted) adjusted by CapAdd/CapDrop/Privileged; Cove's own seccomp
profile (``seccomp_default.json``, capability-aware) unless privileged or
``seccomp=unconfined`` or a ``seccomp=<JSON>`` profile; Docker's masked and
read-only paths; /proc, /dev, /dev/pts, /dev/shm (ShmSize, 64 MiB), /dev/mqueue,
/sys and /sys/fs/cgroup read-only; the devices cgroup allow-list; RLIMIT_NOFILE
1048576 unless Ulimits says otherwise; private pid/ipc/uts/mount/network/cgroup
namespaces unless a mode says "host" or "container:<id>".
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
