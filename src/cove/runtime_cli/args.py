"""A small, fast argument parser that accepts what runc's (urfave/cli) does.

``--flag value``, ``--flag=value``, ``-flag value`` (Go style single dash),
short aliases (``-d``), boolean flags with optional ``=true/false``, repeated
flags, and ``--`` to end the flags. Flags stop at the first positional
argument, so ``exec ID sh -c ...`` keeps the command's own flags.
argparse is not used: it costs import time on every call and does not accept
the Go spellings engines use.
"""

from __future__ import annotations

from cove.errors import InvalidArgument

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Final

BOOL: Final = "bool"
VALUE: Final = "value"
MULTI: Final = "multi"


class Flag:
    __slots__ = ("aliases", "kind", "name")

    def __init__(self, name: str, kind: str = BOOL, aliases: tuple[str, ...] = ()) -> None:
        self.name = name
        self.kind = kind
        self.aliases = aliases


class Parsed:
    __slots__ = ("args", "flags")

    def __init__(self) -> None:
        self.flags: dict[str, object] = {}
        self.args: list[str] = []

    def bool(self, name: str) -> bool:
        return bool(self.flags.get(name, False))

    def value(self, name: str, default: str | None = None) -> str | None:
        value = self.flags.get(name, default)
        return None if value is None else str(value)

    def values(self, name: str) -> list[str]:
        value = self.flags.get(name)
        return list(value) if isinstance(value, list) else []


_TRUE: Final = {"true", "1", "t", "yes"}
_FALSE: Final = {"false", "0", "f", "no"}


def parse(argv: list[str], flags: list[Flag], *, stop_at_positional: bool = True,
          where: str = "") -> Parsed:
    table: dict[str, Flag] = {}
    for spec in flags:
        table[spec.name] = spec
        for alias in spec.aliases:
            table[alias] = spec
    out = Parsed()
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.args.extend(argv[i + 1:])
            break
        if not token.startswith("-") or token == "-":
            out.args.append(token)
            if stop_at_positional:
                out.args.extend(argv[i + 1:])
                break
            i += 1
            continue
        name, eq, inline = token.lstrip("-").partition("=")
        flag = table.get(name)
        if flag is None:
            raise InvalidArgument(f"{where}flag provided but not defined: -{name}")
        if flag.kind == BOOL:
            if eq:
                low = inline.lower()
                if low not in _TRUE | _FALSE:
                    raise InvalidArgument(f"{where}invalid boolean value {inline!r} for "
                                          f"--{flag.name}")
                out.flags[flag.name] = low in _TRUE
            else:
                out.flags[flag.name] = True
            i += 1
            continue
        if eq:
            value = inline
            i += 1
        else:
            if i + 1 >= len(argv):
                raise InvalidArgument(f"{where}flag needs an argument: -{name}")
            value = argv[i + 1]
            i += 2
        if flag.kind == MULTI:
            existing = out.flags.setdefault(flag.name, [])
            assert isinstance(existing, list)
            existing.append(value)
        else:
            out.flags[flag.name] = value
    return out
