"""create/run options: the flags, and the create body docker builds from them.

Values are converted while parsing (so a bad one is a usage error naming its
flag) and placed into Config / HostConfig / NetworkingConfig under the Engine
API's names, as the docker CLI does.
"""

from __future__ import annotations

import os

from cove.cli import units
from cove.cli.errors import UsageError
from cove.cli.flags import BOOL, INT, LIST, STRING, Flag, Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _attach_stream(text: str) -> str:
    low = text.lower()
    if low not in ("stdin", "stdout", "stderr"):
        raise ValueError(f"valid streams are STDIN, STDOUT and STDERR: {text}")
    return low


def _pull_policy(text: str) -> str:
    if text not in ("missing", "always", "never"):
        raise ValueError(f'invalid pull option: \'{text}\': must be one of "always", '
                         '"missing" or "never"')
    return text


def _nonneg_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def _env_file(text: str) -> list[str]:
    return units.read_kv_file(text, os.environ.get)


def _label_file(text: str) -> list[str]:
    return units.read_kv_file(text, None)


def _label(text: str) -> str:
    if text.startswith("="):
        raise ValueError(f"invalid label: {text}")
    return text


def _security_opt(text: str) -> str:
    """seccomp=<file> is sent inline as JSON, as the docker CLI does."""
    key, sep, value = text.partition("=" if "=" in text else ":")
    if key == "seccomp" and sep and value != "unconfined":
        try:
            with open(value, encoding="utf-8") as f:
                profile = f.read()
        except OSError as e:
            raise ValueError(f"opening seccomp profile ({value}) failed: "
                             f"{(e.strerror or str(e)).lower()}") from None
        from cove import fastjson

        try:
            profile = fastjson.dumps(fastjson.loads(profile))
        except ValueError as e:
            raise ValueError(f"compacting json for seccomp profile ({value}) failed: {e}") \
                from None
        return f"seccomp={profile}"
    return text


def _cpu_shares(text: str) -> int:
    return _nonneg_int(text)


def _detach_keys(text: str) -> str:
    from cove.cli.tty import parse_detach_keys

    parse_detach_keys(text)
    return text


_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ATTACHMENT_KEYS = ("name", "alias", "ip", "ip6", "mac-address", "link-local-ip", "driver-opt",
                    "gw-priority")


def _network(text: str) -> dict[str, Any]:
    """One --network: a name, or docker's long syntax ``name=n,alias=a,ip=...``.

    docker takes the long syntax when ``\\w+=\\w+`` occurs anywhere in the value,
    and lowercases its keys and values (so does this).
    """
    long_syntax = any(c == "=" and 0 < i < len(text) - 1 and text[i - 1] in _WORD
                      and text[i + 1] in _WORD for i, c in enumerate(text))
    if not long_syntax:
        return {"Target": text}
    import csv

    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration) as e:
        raise ValueError(str(e)) from None
    att: dict[str, Any] = {"Target": "", "Aliases": [], "LinkLocalIPs": [], "DriverOpts": {}}
    for item in fields:
        key, eq, value = item.lower().partition("=")
        if not eq or not key:
            raise ValueError(f"invalid field {item}")
        key, value = key.strip(), value.strip()
        if key not in _ATTACHMENT_KEYS:
            raise ValueError(f"invalid field key {key}")
        if key == "name":
            att["Target"] = value
        elif key == "alias":
            att["Aliases"].append(value)
        elif key == "ip":
            att["IPv4Address"] = value
        elif key == "ip6":
            att["IPv6Address"] = value
        elif key == "mac-address":
            att["MacAddress"] = value
        elif key == "link-local-ip":
            att["LinkLocalIPs"].append(value)
        elif key == "driver-opt":
            opt_key, opt_eq, opt_value = value.partition("=")
            if not opt_eq or not opt_key:
                raise ValueError("invalid key value pair format in driver options")
            att["DriverOpts"][opt_key.strip()] = opt_value.strip()
        else:
            try:
                att["GwPriority"] = int(value)
            except ValueError:
                raise ValueError(f"invalid gw-priority ({value}): invalid syntax") from None
    if not att["Target"]:
        raise ValueError("network name/id is not specified")
    return att


def _link(text: str) -> str:
    if not text:
        raise ValueError("empty string specified for links")
    if text.count(":") > 1:
        raise ValueError(f"bad format for links: {text}")
    return text


def _valid_mac(text: str) -> bool:
    """Go's net.ParseMAC: 6, 8 or 20 octets as aa:bb:.. / aa-bb-.. or aabb.ccdd.. groups."""
    hexdigits = "0123456789abcdefABCDEF"
    if "." in text:
        groups = text.split(".")
        return len(groups) in (3, 4, 10) and all(
            len(g) == 4 and all(c in hexdigits for c in g) for g in groups)
    sep = ":" if ":" in text else "-"
    octets = text.split(sep)
    return len(octets) in (6, 8, 20) and all(
        len(o) == 2 and all(c in hexdigits for c in o) for o in octets)


def _user_defined(mode: str) -> bool:
    return mode not in ("default", "bridge", "host", "none") and not mode.startswith(
        "container:")


def _apply_container_options(att: dict[str, Any], opts: Options) -> None:
    """docker's applyContainerOptions: --network-alias, --link, --ip... go to the first network."""
    for dest, key, what in (
            ("network_alias", "Aliases", "--network-alias and per-network alias"),
            ("link", "Links", "--link and per-network links"),
            ("ip", "IPv4Address", "--ip and per-network IPv4 address"),
            ("ip6", "IPv6Address", "--ip6 and per-network IPv6 address"),
            ("mac_address", "MacAddress", "--mac-address and per-network MAC address"),
            ("link_local_ip", "LinkLocalIPs",
             "--link-local-ip and per-network link-local IP addresses")):
        if att.get(key) and opts[dest]:
            raise UsageError(f"conflicting options: cannot specify both {what}")
    if opts.list("network_alias"):
        att["Aliases"] = list(opts.list("network_alias"))
    # on a user-defined network --link is an alias; on the default bridge a legacy link
    if _user_defined(att["Target"]) and opts.list("link"):
        att["Links"] = list(opts.list("link"))
    for dest, key in (("ip", "IPv4Address"), ("ip6", "IPv6Address"),
                      ("mac_address", "MacAddress")):
        if opts.str(dest):
            att[key] = opts.str(dest)
    if opts.list("link_local_ip"):
        att["LinkLocalIPs"] = list(opts.list("link_local_ip"))


def _endpoint(att: dict[str, Any]) -> dict[str, Any]:
    """docker's parseNetworkAttachmentOpt: an EndpointSettings with only what was set."""
    target = att["Target"]
    if not target.strip():
        raise UsageError("no name set for network")
    if not _user_defined(target):
        if att.get("Aliases"):
            raise UsageError("network-scoped aliases are only supported for user-defined "
                             "networks")
        if att.get("Links"):
            raise UsageError("links are only supported for user-defined networks")
    ep: dict[str, Any] = {}
    ipam = {k: att[k] for k in ("IPv4Address", "IPv6Address", "LinkLocalIPs") if att.get(k)}
    if ipam:
        ep["IPAMConfig"] = ipam
    for key in ("Links", "Aliases", "DriverOpts", "GwPriority"):
        if att.get(key):
            ep[key] = att[key]
    mac = str(att.get("MacAddress") or "")
    if mac:
        if not _valid_mac(mac.strip()):
            raise UsageError(f"{mac} is not a valid mac address")
        ep["MacAddress"] = mac
    return ep


def network_endpoints(opts: Options) -> tuple[str, dict[str, dict[str, Any]]]:
    """(HostConfig.NetworkMode, NetworkingConfig.EndpointsConfig) as docker's parseNetworkOpts.

    The container-wide network flags apply to the first --network; a single
    network with nothing set gets no endpoint entry (the daemon makes one).
    """
    attachments = [dict(a) for a in opts.list("network")]
    endpoints: dict[str, dict[str, Any]] = {}
    if not attachments:
        att: dict[str, Any] = {"Target": "default"}
        _apply_container_options(att, opts)
        endpoints["default"] = _endpoint(att)
    user_defined = other = False
    for i, att in enumerate(attachments):
        if _user_defined(att["Target"]):
            user_defined = True
        else:
            other = True
        if i == 0:
            _apply_container_options(att, opts)
        ep = _endpoint(att)
        if att["Target"] in endpoints:
            raise UsageError(f'network "{att["Target"]}" is specified multiple times')
        if i == 0 and len(attachments) == 1 and not ep:
            continue
        endpoints[att["Target"]] = ep
    if user_defined and other:
        raise UsageError("conflicting options: cannot attach both user-defined and "
                         "non-user-defined network-modes")
    mode = attachments[0]["Target"] if attachments else "default"
    return mode, endpoints


CREATE_FLAGS: list[Flag] = [
    Flag("attach", "a", LIST, help="Attach to STDIN, STDOUT or STDERR", convert=_attach_stream),
    Flag("interactive", "i", BOOL, help="Keep STDIN open even if not attached"),
    Flag("tty", "t", BOOL, help="Allocate a pseudo-TTY"),
    Flag("name", "", STRING, help="Assign a name to the container"),
    Flag("rm", "", BOOL, help="Automatically remove the container when it exits"),
    Flag("env", "e", LIST, help="Set environment variables"),
    Flag("env-file", "", LIST, help="Read in a file of environment variables",
         convert=_env_file),
    Flag("workdir", "w", STRING, help="Working directory inside the container"),
    Flag("user", "u", STRING, help="Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("hostname", "h", STRING, help="Container host name"),
    Flag("domainname", "", STRING, help="Container NIS domain name"),
    Flag("label", "l", LIST, help="Set meta data on a container", convert=_label),
    Flag("label-file", "", LIST, help="Read in a line delimited file of labels",
         convert=_label_file),
    Flag("entrypoint", "", STRING, help="Overwrite the default ENTRYPOINT of the image"),
    Flag("init", "", BOOL, help="Run an init inside the container"),
    Flag("restart", "", STRING, default="no", help="Restart policy to apply",
         convert=units.parse_restart),
    Flag("stop-signal", "", STRING, help="Signal to stop the container",
         convert=units.parse_signal),
    Flag("stop-timeout", "", INT, help="Timeout (in seconds) to stop a container"),
    Flag("health-cmd", "", STRING, help="Command to run to check health"),
    Flag("health-interval", "", STRING, default=0, metavar="duration",
         help="Time between running the check", convert=units.parse_positive_duration),
    Flag("health-retries", "", INT, help="Consecutive failures needed to report unhealthy"),
    Flag("health-timeout", "", STRING, default=0, metavar="duration",
         help="Maximum time to allow one check to run", convert=units.parse_positive_duration),
    Flag("health-start-period", "", STRING, default=0, metavar="duration",
         help="Start period for the container to initialize",
         convert=units.parse_positive_duration),
    Flag("health-start-interval", "", STRING, default=0, metavar="duration",
         help="Time between running the check during the start period",
         convert=units.parse_positive_duration),
    Flag("no-healthcheck", "", BOOL, help="Disable any container-specified HEALTHCHECK"),
    Flag("memory", "m", STRING, default=0, metavar="bytes", help="Memory limit",
         convert=units.parse_ram),
    Flag("memory-swap", "", STRING, default=0, metavar="bytes",
         help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
         convert=units.parse_swap),
    Flag("memory-reservation", "", STRING, default=0, metavar="bytes",
         help="Memory soft limit", convert=units.parse_ram),
    Flag("memory-swappiness", "", INT, default=-1, help="Tune container memory swappiness"),
    Flag("kernel-memory", "", STRING, default=0, metavar="bytes", help="Kernel memory limit",
         convert=units.parse_ram),
    Flag("cpus", "", STRING, default=0, metavar="decimal", help="Number of CPUs",
         convert=units.parse_nanocpus),
    Flag("cpu-shares", "c", INT, help="CPU shares (relative weight)", convert=_cpu_shares),
    Flag("cpu-period", "", INT, help="Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("cpu-quota", "", INT, help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("cpuset-cpus", "", STRING, help="CPUs in which to allow execution (0-3, 0,1)"),
    Flag("cpuset-mems", "", STRING, help="MEMs in which to allow execution (0-3, 0,1)"),
    Flag("blkio-weight", "", INT, help="Block IO (relative weight), between 10 and 1000"),
    Flag("pids-limit", "", INT, help="Tune container pids limit (set -1 for unlimited)"),
    Flag("oom-kill-disable", "", BOOL, help="Disable OOM Killer"),
    Flag("oom-score-adj", "", INT, help="Tune host's OOM preferences (-1000 to 1000)"),
    Flag("ulimit", "", LIST, metavar="ulimit", help="Ulimit options",
         convert=units.parse_ulimit),
    Flag("cap-add", "", LIST, help="Add Linux capabilities",
         convert=units.normalize_capability),
    Flag("cap-drop", "", LIST, help="Drop Linux capabilities",
         convert=units.normalize_capability),
    Flag("privileged", "", BOOL, help="Give extended privileges to this container"),
    Flag("security-opt", "", LIST, help="Security Options", convert=_security_opt),
    Flag("read-only", "", BOOL, help="Mount the container's root filesystem as read only"),
    Flag("device", "", LIST, help="Add a host device to the container",
         convert=units.parse_device),
    Flag("sysctl", "", LIST, metavar="map", help="Sysctl options",
         convert=units.parse_key_value),
    Flag("shm-size", "", STRING, default=0, metavar="bytes", help="Size of /dev/shm",
         convert=units.parse_ram),
    Flag("group-add", "", LIST, help="Add additional groups to join"),
    Flag("log-driver", "", STRING, help="Logging driver for the container"),
    Flag("log-opt", "", LIST, help="Log driver options", convert=units.parse_key_value),
    Flag("runtime", "", STRING, help="Runtime to use for this container"),
    Flag("volume", "v", LIST, help="Bind mount a volume", convert=units.parse_volume),
    Flag("mount", "", LIST, metavar="mount", help="Attach a filesystem mount to the container",
         convert=units.parse_mount),
    Flag("tmpfs", "", LIST, help="Mount a tmpfs directory", convert=units.parse_tmpfs),
    Flag("volumes-from", "", LIST, help="Mount volumes from the specified container(s)"),
    Flag("network", "", LIST, metavar="network", help="Connect a container to a network",
         convert=_network),
    Flag("net", "", LIST, metavar="network", dest="network",
         help="Connect a container to a network", convert=_network),
    Flag("network-alias", "", LIST, help="Add network-scoped alias for the container"),
    Flag("link", "", LIST, help="Add link to another container", convert=_link),
    Flag("link-local-ip", "", LIST, help="Container IPv4/IPv6 link-local addresses"),
    Flag("publish", "p", LIST, help="Publish a container's port(s) to the host",
         convert=units.parse_publish),
    Flag("publish-all", "P", BOOL, help="Publish all exposed ports to random ports"),
    Flag("expose", "", LIST, help="Expose a port or a range of ports",
         convert=units.parse_expose),
    # not checked here: docker leaves --ip/--ip6 to the daemon
    Flag("ip", "", STRING, help="IPv4 address (e.g., 172.30.100.104)"),
    Flag("ip6", "", STRING, help="IPv6 address (e.g., 2001:db8::33)"),
    Flag("mac-address", "", STRING, help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    Flag("dns", "", LIST, help="Set custom DNS servers", convert=units.parse_ip),
    Flag("dns-search", "", LIST, help="Set custom DNS search domains"),
    Flag("dns-option", "", LIST, help="Set DNS options"),
    Flag("add-host", "", LIST, help="Add a custom host-to-IP mapping (host:ip)",
         convert=units.parse_add_host),
    Flag("pid", "", STRING, help="PID namespace to use"),
    Flag("ipc", "", STRING, help="IPC mode to use"),
    Flag("uts", "", STRING, help="UTS namespace to use"),
    Flag("userns", "", STRING, help="User namespace to use"),
    Flag("cgroupns", "", STRING, help="Cgroup namespace to use (host|private)"),
    Flag("cgroup-parent", "", STRING, help="Optional parent cgroup for the container"),
    Flag("platform", "", STRING, help="Set platform if server is multi-platform capable"),
    Flag("pull", "", STRING, default="missing", help='Pull image before running ("always", '
         '"missing", "never")', convert=_pull_policy),
    Flag("quiet", "q", BOOL, help="Suppress the pull output"),
    Flag("cidfile", "", STRING, help="Write the container ID to the file"),
]

RUN_FLAGS: list[Flag] = [
    *CREATE_FLAGS,
    Flag("detach", "d", BOOL, help="Run container in background and print container ID"),
    Flag("detach-keys", "", STRING, help="Override the key sequence for detaching a container",
         convert=_detach_keys),
    Flag("sig-proxy", "", BOOL, default=True, help="Proxy received signals to the process"),
]


def _kv_map(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return dict(pairs)


def _labels(opts: Options) -> dict[str, str]:
    labels: dict[str, str] = {}
    for line in [x for chunk in opts.list("label_file") for x in chunk] + opts.list("label"):
        key, _, value = line.partition("=")
        labels[key] = value
    return labels


def _environment(opts: Options) -> list[str]:
    env = [x for chunk in opts.list("env_file") for x in chunk]
    for item in opts.list("env"):
        value = units.parse_env(item)
        if value is not None:
            env.append(value)
    return env


def _healthcheck(opts: Options) -> dict[str, Any] | None:
    health_flags = ("health_cmd", "health_interval", "health_timeout", "health_retries",
                    "health_start_period", "health_start_interval")
    any_health = any(opts.is_set(f) for f in health_flags)
    if opts.bool("no_healthcheck"):
        if any_health:
            raise UsageError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not any_health:
        return None
    check: dict[str, Any] = {}
    if opts.str("health_cmd"):
        check["Test"] = ["CMD-SHELL", opts.str("health_cmd")]
    for dest, key in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                      ("health_start_period", "StartPeriod"),
                      ("health_start_interval", "StartInterval")):
        if opts.is_set(dest):
            check[key] = opts[dest]
    if opts.is_set("health_retries"):
        if opts.int("health_retries") < 0:
            raise UsageError("--health-retries cannot be negative")
        check["Retries"] = opts.int("health_retries")
    return check


def build_create_body(opts: Options, image: str, command: list[str]) -> dict[str, Any]:
    """The POST /containers/create body for ``image`` and ``command``."""
    attach = opts.list("attach")
    detach = bool(opts.values.get("detach"))
    if detach and attach:
        raise UsageError("Conflicting options: -a and -d")
    interactive = opts.bool("interactive")
    if not detach and not attach:
        attach = ["stdout", "stderr"] + (["stdin"] if interactive else [])
    elif interactive and "stdin" not in attach and not detach:
        attach = [*attach, "stdin"]
    if detach:
        attach = []

    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in opts.list("publish"):
        for port, binding in spec:
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)
    for ports in opts.list("expose"):
        for port in ports:
            exposed[port] = {}

    binds: list[str] = []
    volumes: dict[str, dict[str, Any]] = {}
    for kind, spec in opts.list("volume"):
        if kind == "bind":
            binds.append(spec)
        else:
            volumes[spec] = {}

    config: dict[str, Any] = {
        "Hostname": opts.str("hostname"),
        "Domainname": opts.str("domainname"),
        "User": opts.str("user"),
        "AttachStdin": "stdin" in attach,
        "AttachStdout": "stdout" in attach,
        "AttachStderr": "stderr" in attach,
        "Tty": opts.bool("tty"),
        "OpenStdin": interactive,
        "StdinOnce": interactive and not detach and "stdin" in attach,
        "Env": _environment(opts),
        "Cmd": command or None,
        "Image": image,
        "Volumes": volumes or None,
        "WorkingDir": opts.str("workdir"),
        "Entrypoint": None,
        "Labels": _labels(opts),
    }
    if opts.is_set("entrypoint"):
        config["Entrypoint"] = [opts.str("entrypoint")]
    if exposed:
        config["ExposedPorts"] = exposed
    if opts.is_set("stop_signal"):
        config["StopSignal"] = opts.str("stop_signal")
    if opts.is_set("stop_timeout"):
        config["StopTimeout"] = opts.int("stop_timeout")
    if opts.is_set("mac_address"):
        config["MacAddress"] = opts.str("mac_address")
    health = _healthcheck(opts)
    if health is not None:
        config["Healthcheck"] = health

    memory = opts["memory"]
    swap = opts["memory_swap"]
    if swap and swap != -1 and memory and swap < memory:
        raise UsageError("Minimum memoryswap limit should be larger than memory limit, "
                         "see usage")
    network_mode, endpoints = network_endpoints(opts)
    host: dict[str, Any] = {
        "Binds": binds or None,
        "NetworkMode": network_mode,
        "PortBindings": bindings or {},
        "RestartPolicy": opts["restart"] if opts.is_set("restart") else
        {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": opts.bool("rm"),
        "VolumesFrom": opts.list("volumes_from") or None,
        "CapAdd": opts.list("cap_add") or None,
        "CapDrop": opts.list("cap_drop") or None,
        "Dns": opts.list("dns"),
        "DnsOptions": opts.list("dns_option"),
        "DnsSearch": opts.list("dns_search"),
        "ExtraHosts": opts.list("add_host") or None,
        "GroupAdd": opts.list("group_add") or None,
        "Privileged": opts.bool("privileged"),
        "PublishAllPorts": opts.bool("publish_all"),
        "ReadonlyRootfs": opts.bool("read_only"),
        "SecurityOpt": opts.list("security_opt") or None,
        "Memory": memory,
        "MemorySwap": swap,
        "MemoryReservation": opts["memory_reservation"],
        "NanoCpus": opts["cpus"],
        "CpuShares": opts.int("cpu_shares"),
        "CpuPeriod": opts.int("cpu_period"),
        "CpuQuota": opts.int("cpu_quota"),
        "CpusetCpus": opts.str("cpuset_cpus"),
        "CpusetMems": opts.str("cpuset_mems"),
        "BlkioWeight": opts.int("blkio_weight"),
        "Devices": opts.list("device"),
        "Ulimits": opts.list("ulimit") or None,
        "OomKillDisable": opts.bool("oom_kill_disable"),
        "OomScoreAdj": opts.int("oom_score_adj"),
        "ShmSize": opts["shm_size"],
        "Mounts": opts.list("mount") or None,
        "Tmpfs": _kv_map(opts.list("tmpfs")) or None,
        "Sysctls": _kv_map(opts.list("sysctl")) or None,
        "LogConfig": {"Type": opts.str("log_driver"), "Config": _kv_map(opts.list("log_opt"))},
        "PidMode": opts.str("pid"),
        "IpcMode": opts.str("ipc"),
        "UTSMode": opts.str("uts"),
        "UsernsMode": opts.str("userns"),
        "CgroupnsMode": opts.str("cgroupns"),
        "CgroupParent": opts.str("cgroup_parent"),
        "Runtime": opts.str("runtime"),
    }
    if opts.is_set("pids_limit"):
        host["PidsLimit"] = opts.int("pids_limit")
    if opts.is_set("memory_swappiness") and opts.int("memory_swappiness") != -1:
        host["MemorySwappiness"] = opts.int("memory_swappiness")
    if opts.is_set("init"):
        host["Init"] = opts.bool("init")
    if opts.bool("rm") and host["RestartPolicy"]["Name"] not in ("no", ""):
        raise UsageError("Conflicting options: --restart and --rm")
    body: dict[str, Any] = dict(config)
    body["HostConfig"] = host
    if opts.list("link"):
        host["Links"] = list(opts.list("link"))
    body["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return body
