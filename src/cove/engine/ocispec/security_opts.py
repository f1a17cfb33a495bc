"""HostConfig.SecurityOpt, parsed.

Cove's choices where it cannot do what is asked: ``apparmor=unconfined`` and
``label=disable`` ask for less confinement than Cove already applies (it has no
AppArmor or SELinux), so they are accepted and change nothing. Any other
``apparmor=`` or ``label=`` option asks for confinement Cove cannot give; it is
refused with ``Unsupported`` rather than ignored, so nobody believes a
container confined when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from cove.errors import InvalidArgument, Unsupported

__all__ = ["SecurityOptions", "parse_security_opts"]


@dataclass(frozen=True)
class SecurityOptions:
    seccomp: str = "default"  # "default", "unconfined", or "custom"
    seccomp_profile: str = ""  # the JSON text when "custom"
    no_new_privileges: bool | None = None  # None: the daemon's default
    unconfined_system_paths: bool = False  # systempaths=unconfined: no masked/ro paths
    writable_cgroups: bool | None = None


def _bool(value: str, where: str, original: str) -> bool:
    if value in ("", "true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid {where}: \"{original}\" (invalid boolean {value!r})")


def parse_security_opts(options: tuple[str, ...]) -> SecurityOptions:
    seccomp, profile = "default", ""
    nnp: bool | None = None
    system_paths = False
    writable_cgroups: bool | None = None
    for i, option in enumerate(options):
        where = f"HostConfig.SecurityOpt[{i}]"
        key, sep, value = option.partition("=")
        if not sep and ":" in option:
            # The legacy "key:value" form, still accepted by Docker.
            key, sep, value = option.partition(":")
        if key == "no-new-privileges":
            nnp = _bool(value, where, option)
        elif not sep:
            raise InvalidArgument(f"invalid {where}: Invalid --security-opt: \"{option}\"")
        elif key == "seccomp":
            if value == "unconfined":
                seccomp, profile = "unconfined", ""
            elif value in ("builtin", ""):
                seccomp, profile = "default", ""
            else:
                seccomp, profile = "custom", value
        elif key == "apparmor":
            if value != "unconfined":
                raise Unsupported(f"{where}: \"{option}\": Cove has no AppArmor support; only "
                                  "apparmor=unconfined is accepted")
        elif key == "label":
            if value not in ("disable", "disabled"):
                raise Unsupported(f"{where}: \"{option}\": Cove has no SELinux support; only "
                                  "label=disable is accepted")
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidArgument(f"invalid {where}: \"{option}\" (systempaths takes only "
                                      "\"unconfined\")")
            system_paths = True
        elif key == "writable-cgroups":
            writable_cgroups = _bool(value, where, option)
        else:
            raise InvalidArgument(f"invalid {where}: invalid --security-opt {i + 1}: "
                                  f"\"{option}\"")
    return SecurityOptions(seccomp, profile, nnp, system_paths, writable_cgroups)
