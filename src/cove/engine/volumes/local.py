"""The ``local`` driver's options: ``type``, ``device`` and ``o`` (mount(8)'s),
mounted on ``_data`` on first use and unmounted when the volume is removed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from cove.errors import FailedPrecondition, InvalidArgument

_KEYS = ("type", "device", "o")


def check_options(options: Mapping[str, str]) -> dict[str, str]:
    for key in options:
        if key not in _KEYS:
            raise InvalidArgument(f'invalid option key: "{key}"')
    opts = dict(options)
    if not opts:
        return opts
    o = opts.get("o", "")
    bind = "bind" in o.split(",")
    if not opts.get("device") and opts.get("type") != "tmpfs":
        raise InvalidArgument("missing required option: \"device\"")
    if not opts.get("type") and not bind:
        raise InvalidArgument("missing required option: \"type\"")
    if bind and not opts["device"].startswith("/"):
        raise InvalidArgument(f"invalid option: \"device={opts['device']}\" (a bind device "
                              "must be an absolute path)")
    return opts


def needs_mount(options: Mapping[str, str]) -> bool:
    return bool(options)


def is_mounted(path: str) -> bool:
    """Whether something is mounted on ``path``, from /proc/self/mountinfo: a bind
    mount from the same filesystem has the same st_dev, which os.path.ismount misses."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                fields = line.split(" ", 5)
                if len(fields) > 4 and _unescape(fields[4]) == target:
                    return True
    except OSError:
        return os.path.ismount(path)
    return False


def _unescape(text: str) -> str:
    # mountinfo writes space, tab, newline and backslash as \ooo octal escapes.
    for code in ("040", "011", "012", "134"):
        text = text.replace("\\" + code, chr(int(code, 8)))
    return text


def mount(name: str, options: Mapping[str, str], target: str) -> None:
    """Mount the volume's device on ``target`` unless it is there already."""
    if not options or is_mounted(target):
        return
    o = options.get("o", "")
    fstype = options.get("type", "")
    device = options.get("device") or fstype
    argv = ["mount"]
    if fstype and fstype != "none":
        argv += ["-t", fstype]
    if o:
        argv += ["-o", o]
    argv += [device, target]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FailedPrecondition(f"error while mounting volume '{name}' on {target}: "
                                 f"{done.stderr.strip() or 'mount failed'}")


def unmount(name: str, target: str) -> None:
    """Unmount every mount stacked on ``target``: the data is removed next, and a mount
    left there would take the device's (or a bound host directory's) files with it."""
    for _ in range(8):
        if not is_mounted(target):
            return
        done = subprocess.run(["umount", target], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise FailedPrecondition(f"error while removing volume '{name}': cannot "
                                     f"unmount {target}: {done.stderr.strip()}")
    raise FailedPrecondition(f"error while removing volume '{name}': {target} is still "
                             "mounted")
