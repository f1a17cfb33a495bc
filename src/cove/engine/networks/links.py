"""Legacy links (``--link name[:alias]``), as Docker keeps them working.

On the default bridge a link gives the linking container environment variables
describing the target (``ALIAS_NAME``, ``ALIAS_PORT_80_TCP=tcp://ip:80``, its
``ALIAS_ENV_*``) and an /etc/hosts line; on a user-defined network a link is an alias
only the linking container resolves. Both need the target running when the linking
container starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from cove.errors import InvalidArgument

__all__ = ["Link", "link_env", "parse_links"]


@dataclass(frozen=True)
class Link:
    name: str  # the target container, as the user named it
    alias: str

    def normalized(self, own_name: str) -> str:
        """Docker's stored form: ``/target:/linker/alias``."""
        return f"/{self.name}:/{own_name}/{self.alias}"


def parse_links(entries: list[str] | tuple[str, ...] | None) -> list[Link]:
    out = []
    for entry in entries or ():
        if not isinstance(entry, str) or not entry.strip("/:"):
            raise InvalidArgument(f"invalid link {entry!r}: want name[:alias]")
        name, _, alias = entry.partition(":")
        name = name.strip("/")
        # "/db:/web/mydb" (inspect's form) names the alias last.
        alias = alias.rsplit("/", 1)[-1] if alias else name
        if not name or not alias:
            raise InvalidArgument(f"invalid link {entry!r}: want name[:alias]")
        out.append(Link(name, alias))
    return out


def _env_prefix(alias: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in alias.upper())


def link_env(link: Link, own_name: str, target_ip: str, exposed: list[str],
             target_env: list[str]) -> list[str]:
    """The variables Docker sets for one link on the default bridge."""
    prefix = _env_prefix(link.alias)
    env = [f"{prefix}_NAME=/{own_name}/{link.alias}"]
    ports: list[tuple[int, str]] = []
    for key in exposed:
        number, _, kind = key.partition("/")
        if number.isdigit():
            ports.append((int(number), kind or "tcp"))
    ports.sort()
    if ports:
        first, first_proto = ports[0]
        env.append(f"{prefix}_PORT={first_proto}://{target_ip}:{first}")
    for port, proto in ports:
        base = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{base}={proto}://{target_ip}:{port}", f"{base}_ADDR={target_ip}",
                f"{base}_PORT={port}", f"{base}_PROTO={proto}"]
    for item in target_env:
        name, sep, value = item.partition("=")
        # Docker leaves out what every image has (its build's HOME and PATH).
        if sep and name not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{name}={value}")
    return env
