"""Docker's value syntaxes, converted client-side as the docker CLI does.

Sizes (``512m``), Go durations (``1m30s``), CPU counts, ulimits, restart
policies, ``-p`` port specs, ``--device``, ``--mount`` CSV, ``-v`` specs,
env/label files; and the human-readable sizes and ages of table output.
Every parser raises ValueError with the text that follows ``invalid argument
"<value>" for "<flag>" flag:`` in docker's usage error.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_ram(text: str) -> int:
    """``512m`` → 536870912: binary multiples, optional ``i``/``b``, as docker's RAMInBytes."""
    s = text.strip()
    low = s.lower()
    num_end = 0
    while num_end < len(low) and (low[num_end].isdigit() or low[num_end] == "."):
        num_end += 1
    number, suffix = low[:num_end], low[num_end:].lstrip(" ")
    if suffix.endswith("b"):
        suffix = suffix[:-1]
    if suffix.endswith("i") and len(suffix) == 2:
        suffix = suffix[:-1]
    if (not number or not number[0].isdigit() or number.endswith(".")
            or suffix not in _BINARY or not number.replace(".", "").isdigit()):
        raise ValueError(f"invalid size: '{text}'")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    return int(value * _BINARY[suffix])


def parse_swap(text: str) -> int:
    """--memory-swap: a size, or -1 for unlimited."""
    return -1 if text.strip() == "-1" else parse_ram(text)


_DURATION_UNITS = {"ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 10**6,
                   "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_duration(text: str) -> int:
    """A Go duration (``1h2m3.5s``, ``300ms``) in nanoseconds."""
    s = text
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number = s[:i]
        if not number or number == "." or number.count(".") > 1:
            raise ValueError(f'time: invalid duration "{text}"')
        j = i
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit = s[i:j]
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        whole, _, frac = number.partition(".")
        scale = _DURATION_UNITS[unit]
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        s = s[j:]
    return sign * total


def parse_positive_duration(text: str) -> int:
    value = parse_duration(text)
    if value < 0:
        raise ValueError("duration cannot be negative")
    return value


def parse_nanocpus(text: str) -> int:
    """``--cpus 1.5`` → 1500000000."""
    whole, dot, frac = text.strip().partition(".")
    if (not whole and not frac) or (whole and not whole.isdigit()) or (
            dot and frac and not frac.isdigit()):
        raise ValueError(f"failed to parse {text} as a rational number")
    if len(frac.rstrip("0")) > 9:
        raise ValueError("value is too precise")
    return int(whole or "0") * 10**9 + int((frac + "0" * 9)[:9] or "0")


_ULIMITS = frozenset("core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio "
                     "rttime sigpending stack".split())


def parse_ulimit(text: str) -> dict[str, Any]:
    """``nofile=1024:2048`` → {"Name": "nofile", "Soft": 1024, "Hard": 2048}."""
    name, eq, limits = text.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in _ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    soft_text, colon, hard_text = limits.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if colon else soft
    except ValueError:
        raise ValueError(f"invalid ulimit argument: {text}") from None
    if soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: "
                         f"{soft} > {hard}")
    return {"Name": name, "Soft": soft, "Hard": hard}


def parse_restart(text: str) -> dict[str, Any]:
    """``on-failure:3`` → {"Name": "on-failure", "MaximumRetryCount": 3}."""
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(f"invalid restart policy format: {text}")
    name = parts[0]
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise ValueError(f"invalid restart policy: {name}")
    count = 0
    if len(parts) == 2:
        if name != "on-failure":
            raise ValueError(f"maximum retry count cannot be used with restart policy "
                             f"'{name}'")
        if not parts[1].isdigit():
            raise ValueError(f"invalid restart policy format: maximum retry count must be "
                             f"an integer: {parts[1]}")
        count = int(parts[1])
    return {"Name": "no" if name == "" else name, "MaximumRetryCount": count}


_PROTOS = ("tcp", "udp", "sctp")


def _port_range(text: str, what: str) -> tuple[int, int]:
    start, dash, end = text.partition("-")
    if not start.isdigit() or (dash and not end.isdigit()):
        raise ValueError(f"invalid {what}: {text}")
    lo, hi = int(start), int(end) if dash else int(start)
    if lo > 65535 or hi > 65535 or hi < lo:
        raise ValueError(f"invalid {what}: {text}")
    return lo, hi


def parse_publish(text: str) -> list[tuple[str, dict[str, str]]]:
    """A ``-p`` spec → [("80/tcp", {"HostIp": ..., "HostPort": ...}), ...] (ranges expanded)."""
    spec, slash, proto = text.rpartition("/")
    if not slash:
        spec, proto = text, "tcp"
    proto = proto.lower()
    if proto not in _PROTOS:
        raise ValueError(f"invalid proto: {proto}")
    ip = ""
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0 or spec[close + 1:close + 2] != ":":
            raise ValueError(f"invalid ip address: {spec}")
        ip, spec = spec[1:close], spec[close + 2:]
        parts = ["", *spec.split(":")]
    else:
        parts = spec.split(":")
    if len(parts) == 1:
        host, container = "", parts[0]
    elif len(parts) == 2:
        host, container = parts
    elif len(parts) == 3:
        ip = ip or parts[0]
        host, container = parts[1], parts[2]
    else:
        raise ValueError(f"invalid port format for --publish: {text}")
    if ip:
        _check_ip(ip)
    if not container:
        raise ValueError(f"no port specified: {text}<empty>")
    c_lo, c_hi = _port_range(container, "containerPort")
    h_lo = h_hi = 0
    if host:
        h_lo, h_hi = _port_range(host, "hostPort")
    count = c_hi - c_lo + 1
    if host and h_hi - h_lo + 1 != count and count != 1:
        raise ValueError(f"invalid ranges specified for container and host Ports: "
                         f"{container} and {host}")
    out = []
    for k in range(count):
        if not host:
            host_port = ""
        elif count == 1 and h_hi != h_lo:
            host_port = f"{h_lo}-{h_hi}"
        else:
            host_port = str(h_lo + k)
        out.append((f"{c_lo + k}/{proto}", {"HostIp": ip, "HostPort": host_port}))
    return out


def parse_expose(text: str) -> list[str]:
    """``--expose 80``, ``8000-8010/udp`` → ["80/tcp"], [...]."""
    spec, slash, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in _PROTOS:
        raise ValueError(f"invalid proto: {proto}")
    lo, hi = _port_range(spec, "range format for --expose")
    return [f"{p}/{proto}" for p in range(lo, hi + 1)]


def _check_ip(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"invalid ip address: {text}") from None


def parse_ip(text: str) -> str:
    _check_ip(text)
    return text


def parse_add_host(text: str) -> str:
    """``name:ip`` (or ``name=ip``) → "name:ip"; ``host-gateway`` is kept for the daemon."""
    sep = "=" if "=" in text else ":"
    name, found, ip = text.partition(sep)
    if not found or not name:
        raise ValueError(f"bad format for add-host: {text!r}")
    ip = ip.strip("[]")
    if ip != "host-gateway":
        try:
            _check_ip(ip)
        except ValueError:
            raise ValueError(f"invalid IP address in add-host: {ip!r}") from None
    return f"{name}:{ip}"


def _valid_device_mode(mode: str) -> bool:
    return bool(mode) and len(mode) <= 3 and all(c in "rwm" for c in mode) \
        and len(set(mode)) == len(mode)


def parse_device(text: str) -> dict[str, str]:
    """``/dev/x[:/dev/y][:rwm]`` → a DeviceMapping."""
    parts = text.split(":")
    src, dst, perms = parts[0], "", "rwm"
    if len(parts) == 3:
        dst = parts[1]
        if not _valid_device_mode(parts[2]):
            raise ValueError(f"invalid device mode: {parts[2]}")
        perms = parts[2]
    elif len(parts) == 2:
        if _valid_device_mode(parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    elif len(parts) != 1:
        raise ValueError(f"invalid device specification: {text}")
    dst = dst or src
    if not src or not dst.startswith("/"):
        raise ValueError(f"bad format for path: {dst or text}")
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}


_BOOL_TRUE = ("1", "true", "t", "yes")
_BOOL_FALSE = ("0", "false", "f", "no")


def _mount_bool(key: str, value: str) -> bool:
    low = value.lower()
    if low in _BOOL_TRUE:
        return True
    if low in _BOOL_FALSE:
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def parse_mount(text: str) -> dict[str, Any]:
    """``--mount type=bind,src=/a,dst=/b,readonly`` → an API ``Mount``."""
    import csv

    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        raise ValueError(f"invalid mount specification: {text}") from None
    mount: dict[str, Any] = {"Type": "volume"}
    bind: dict[str, Any] = {}
    volume: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    for field in fields:
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            if value not in ("bind", "volume", "tmpfs", "npipe", "cluster", "image"):
                raise ValueError(f"invalid mount type: {value}")
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "dst", "destination"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _mount_bool(key, value) if eq else True
        elif key == "consistency":
            mount["Consistency"] = value
        elif key == "bind-propagation":
            if value not in ("private", "rprivate", "shared", "rshared", "slave", "rslave"):
                raise ValueError(f"invalid bind propagation: {value}")
            bind["Propagation"] = value
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = _mount_bool(key, value) if eq else True
        elif key == "volume-nocopy":
            volume["NoCopy"] = _mount_bool(key, value) if eq else True
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-label":
            name, _, label = value.partition("=")
            volume.setdefault("Labels", {})[name] = label
        elif key == "volume-opt":
            name, _, opt = value.partition("=")
            volume.setdefault("DriverConfig", {}).setdefault("Options", {})[name] = opt
        elif key == "volume-subpath":
            volume["Subpath"] = value
        elif key == "tmpfs-size":
            tmpfs["SizeBytes"] = parse_ram(value)
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(value, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    kind = mount["Type"]
    if not mount.get("Target"):
        raise ValueError("target is required")
    for opts, owner, name in ((bind, "bind", "bind"), (volume, "volume", "volume"),
                              (tmpfs, "tmpfs", "tmpfs")):
        if opts and kind != owner:
            raise ValueError(f"cannot mix '{name}-*' options with mount type '{kind}'")
    if bind:
        mount["BindOptions"] = bind
    if volume:
        mount["VolumeOptions"] = volume
    if tmpfs:
        mount["TmpfsOptions"] = tmpfs
    if kind == "bind" and not mount.get("Source"):
        raise ValueError("source is required when specifying bind mounts")
    return mount


_VOLUME_MODES = frozenset("ro rw z Z shared slave private rshared rslave rprivate nocopy "
                          "consistent cached delegated".split())


def parse_volume(text: str) -> tuple[str, str]:
    """``-v`` → ("bind", spec) for HostConfig.Binds or ("anonymous", path) for Config.Volumes."""
    parts = text.split(":")
    if any(p == "" for p in parts):
        raise ValueError(f"invalid spec: {text}: empty section between colons")
    if len(parts) == 1:
        if not text.startswith("/"):
            raise ValueError(f"invalid volume specification: '{text}': invalid mount config: "
                             "mount path must be absolute")
        return "anonymous", text
    if len(parts) > 3:
        raise ValueError(f"invalid volume specification: '{text}'")
    target = parts[1]
    if not target.startswith("/"):
        raise ValueError(f"invalid volume specification: '{text}': invalid mount config: "
                         f"invalid mount path: '{target}' mount path must be absolute")
    if len(parts) == 3:
        for mode in parts[2].split(","):
            if mode not in _VOLUME_MODES:
                raise ValueError(f"invalid volume specification: '{text}': "
                                 f"invalid mode: {parts[2]}")
    return "bind", text


def parse_tmpfs(text: str) -> tuple[str, str]:
    path, _, opts = text.partition(":")
    if not path.startswith("/"):
        raise ValueError(f"invalid mount path: '{path}' mount path must be absolute")
    return path, opts


def parse_key_value(text: str) -> tuple[str, str]:
    """``k=v`` (``--sysctl``, ``--log-opt``): the = is required."""
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise ValueError(f"{text} is not a valid key=value pair")
    return key, value


def parse_env(text: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``-e K=V`` kept; ``-e K`` takes K from our environment, or None when unset."""
    if "=" in text:
        if text.startswith("="):
            raise ValueError(f"invalid environment variable: {text}")
        return text
    env = os.environ if environ is None else environ
    return f"{text}={env[text]}" if text in env else None


def read_kv_file(path: str, lookup: Callable[[str], str | None] | None) -> list[str]:
    """Lines of an --env-file/--label-file; ``#`` comments and blank lines skipped.

    A bare ``NAME`` is looked up (env files) and left out when unset.
    """
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ValueError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    out = []
    for raw in lines:
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        if not name:
            raise ValueError(f"no variable name on line '{raw}'")
        if any(c.isspace() for c in name):
            raise ValueError(f"variable '{name}' contains whitespaces")
        if eq:
            out.append(f"{name}={value}")
        elif lookup is not None:
            found = lookup(name)
            if found is not None:
                out.append(f"{name}={found}")
        else:
            out.append(name)
    return out


_SIGNALS = frozenset(
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV "
    "STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ".split())


def parse_signal(text: str) -> str:
    """A Linux signal name (``KILL``, ``sigkill``, ``RTMIN+3``) or number, as ``SIGKILL``.

    Numbers pass through; docker's CLI refuses names it does not know.
    """
    s = text.strip()
    if s.isdigit():
        if not 0 < int(s) <= 64:
            raise ValueError(f"invalid signal: {text}")
        return s
    name = s.upper().removeprefix("SIG")
    if name in _SIGNALS:
        return "SIG" + name
    for base, sign in (("RTMIN", "+"), ("RTMAX", "-")):
        if name == base:
            return "SIG" + name
        offset = name.removeprefix(base + sign)
        if name.startswith(base + sign) and offset.isdigit() and 0 < int(offset) <= 15:
            return "SIG" + name
    raise ValueError(f"invalid signal: {text}")


def normalize_capability(text: str) -> str:
    """``net_admin`` → "CAP_NET_ADMIN"; ALL stays ALL (as the docker CLI sends them)."""
    name = text.strip().upper()
    if name == "ALL" or name.startswith("CAP_"):
        return name
    return "CAP_" + name


# Human-readable output ----------------------------------------------------------------

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_ABBR = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _go_g(value: float, precision: int) -> str:
    text = f"{value:.{precision}g}"
    if "e" in text:  # Go writes e+06 the same way; keep the two-digit exponent
        mant, _, exp = text.partition("e")
        sign = exp[0]
        digits = exp[1:].lstrip("0").rjust(2, "0")
        text = f"{mant}e{sign}{digits}"
    return text


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units, as docker prints image and container sizes (``4.26MB``)."""
    i = 0
    while size >= 1000 and i < len(_DECIMAL) - 1:
        size /= 1000
        i += 1
    return _go_g(size, precision) + _DECIMAL[i]


def bytes_size(size: float) -> str:
    """Binary units with 4 significant digits (``1.953MiB``), as ``docker stats``."""
    i = 0
    while size >= 1024 and i < len(_BINARY_ABBR) - 1:
        size /= 1024
        i += 1
    return _go_g(size, 4) + _BINARY_ABBR[i]


def human_duration(seconds: float) -> str:
    """docker's "About an hour" style of a duration (the age columns): the engine's own
    wording, so that the daemon's Status and the CLI's ages never disagree."""
    from cove.engine.humanize import human_duration as engine_wording
    return engine_wording(seconds)


def parse_timestamp(text: str, now: float | None = None) -> str:
    """--since/--until: a Go duration ago, an RFC 3339 time or date, or a unix time.

    Returned as the API wants it, ``seconds.nanoseconds``.
    """
    import time

    reference = time.time() if now is None else now
    try:
        # as docker: "0" is the epoch, not "no time ago"
        ns = parse_duration(text) if text != "0" else None
    except ValueError:
        ns = None
    if ns is not None:
        when = int(reference * 10**9) - ns
        return f"{when // 10**9}.{when % 10**9:09d}"
    if "-" not in text and ":" not in text:
        try:
            float(text)
        except ValueError:
            raise ValueError(f"invalid timestamp: {text}") from None
        return text
    from datetime import datetime

    value = text.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f'failed to parse value as time or duration: "{text}"') from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    ts = parsed.timestamp()
    whole = int(ts // 1)
    return f"{whole}.{round((ts - whole) * 10**9):09d}"
