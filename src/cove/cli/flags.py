"""Docker-style (pflag) option parsing.

What docker users type must work the same: ``-it`` (combined short booleans),
``-p8080:80`` and ``-e=X`` (short flag with attached value), ``--name=x`` and
``--name x``, ``--rm=false``, repeatable flags, ``--`` ending options, and for
run/create/exec options ending at the first positional argument. A value that
does not convert is a usage error naming the flag, as pflag words it.
"""

from __future__ import annotations

import builtins

from cove.cli.errors import ArgumentCountError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

BOOL, STRING, LIST, INT = "bool", "string", "list", "int"


class Flag:
    """One option: its names, kind, default and an optional value converter.

    ``convert`` raises ValueError with a message that follows ``invalid argument
    "<value>" for "<flag>" flag:`` in the usage error.
    """

    __slots__ = ("convert", "default", "dest", "help", "kind", "long", "metavar", "short")

    def __init__(self, long: str, short: str = "", kind: str = BOOL, default: Any = None,
                 help: str = "", convert: Callable[[str], Any] | None = None,
                 metavar: str = "", dest: str = "") -> None:
        self.long = long
        self.short = short
        self.kind = kind
        if default is None:
            default = {BOOL: False, LIST: [], STRING: "", INT: 0}[kind]
        self.default = default
        self.help = help
        self.convert = convert
        self.metavar = metavar or {BOOL: "", LIST: "list", STRING: "string", INT: "int"}[kind]
        self.dest = dest or long.replace("-", "_")

    @property
    def display(self) -> str:
        return f"-{self.short}, --{self.long}" if self.short else f"--{self.long}"


class Options:
    """Parsed values by ``dest``, plus which flags the user actually set."""

    def __init__(self, values: dict[str, Any], changed: set[str]) -> None:
        self.values = values
        self.changed = changed

    def __getitem__(self, dest: str) -> Any:
        return self.values[dest]

    def str(self, dest: builtins.str) -> builtins.str:
        value = self.values[dest]
        assert isinstance(value, str)
        return value

    def bool(self, dest: builtins.str) -> builtins.bool:
        return bool(self.values[dest])

    def int(self, dest: builtins.str) -> builtins.int:
        value = self.values[dest]
        assert isinstance(value, int)
        return value

    def list(self, dest: builtins.str) -> builtins.list[Any]:
        value = self.values[dest]
        assert isinstance(value, list)
        return value

    def is_set(self, dest: builtins.str) -> builtins.bool:
        return dest in self.changed


class HelpRequested(Exception):
    """``--help`` was given; the caller prints the usage and exits 0."""


_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _parse_int(text: str) -> int:
    try:
        return int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


class FlagSet:
    def __init__(self, command: str, usage: str, description: str,
                 flags: Sequence[Flag], interspersed: bool = True,
                 min_args: int = 0, max_args: int | None = None) -> None:
        self.command = command
        self.usage = usage
        self.description = description
        self.flags = list(flags)
        self.interspersed = interspersed
        self.min_args = min_args
        self.max_args = max_args
        self._long = {f.long: f for f in self.flags}
        self._short = {f.short: f for f in self.flags if f.short}

    @property
    def usage_line(self) -> str:
        return f"{self.command} {self.usage}".strip()

    def _error(self, message: str) -> UsageError:
        return UsageError(message, self.command, self.usage_line)

    def _count_error(self, requirement: str) -> UsageError:
        err = ArgumentCountError(f"cove: '{self.command}' {requirement}", self.command,
                                 self.usage_line)
        # docker's own inconsistency, kept: "at least" errors say See, others Run
        if requirement.startswith("requires at least"):
            err.help_verb = "See"
        return err

    def help_text(self) -> str:
        lines = [f"\nUsage:  {self.command} {self.usage}\n", self.description, ""]
        if self.flags:
            lines.append("Options:")
            rows = []
            for f in sorted(self.flags, key=lambda f: f.long):
                left = (f"  -{f.short}, --{f.long}" if f.short else f"      --{f.long}")
                if f.metavar:
                    left += " " + f.metavar
                rows.append((left, f.help))
            width = max(len(left) for left, _ in rows) + 3
            lines += [f"{left.ljust(width)}{text}".rstrip() for left, text in rows]
        return "\n".join(lines) + "\n"

    def parse(self, argv: Sequence[str]) -> tuple[Options, list[str]]:
        values: dict[str, Any] = {}
        for f in self.flags:
            values[f.dest] = list(f.default) if f.kind == LIST else f.default
        changed: set[str] = set()
        args: list[str] = []
        i = 0
        n = len(argv)
        while i < n:
            arg = argv[i]
            i += 1
            if arg == "--":
                args.extend(argv[i:])
                break
            if arg.startswith("--") and len(arg) > 2:
                name, eq, value = arg[2:].partition("=")
                if name == "help":
                    raise HelpRequested(self.help_text())
                flag = self._long.get(name)
                if flag is None:
                    raise self._error(f"unknown flag: --{name}")
                if not eq and flag.kind != BOOL:
                    if i >= n:
                        raise self._error(f"flag needs an argument: --{name}")
                    value = argv[i]
                    i += 1
                self._set(flag, value if (eq or flag.kind != BOOL) else None, values, changed)
            elif arg.startswith("-") and len(arg) > 1:
                j = 1
                while j < len(arg):
                    c = arg[j]
                    j += 1
                    if c == "h" and "h" not in self._short:
                        raise HelpRequested(self.help_text())
                    flag = self._short.get(c)
                    if flag is None:
                        raise self._error(f"unknown shorthand flag: '{c}' in {arg}")
                    rest = arg[j:]
                    if flag.kind == BOOL:
                        if rest.startswith("="):
                            self._set(flag, rest[1:], values, changed)
                            break
                        self._set(flag, None, values, changed)
                        continue
                    if rest:
                        value = rest[1:] if rest.startswith("=") else rest
                    elif i < n:
                        value = argv[i]
                        i += 1
                    else:
                        raise self._error(f"flag needs an argument: '{c}' in -{c}")
                    self._set(flag, value, values, changed)
                    break
            else:
                args.append(arg)
                if not self.interspersed:
                    args.extend(argv[i:])
                    break
        self._check_count(args)
        return Options(values, changed), args

    def _check_count(self, args: list[str]) -> None:
        word = "argument" if self.min_args == 1 else "arguments"
        if self.max_args is not None and self.max_args == self.min_args > 0 \
                and len(args) != self.min_args:
            raise self._count_error(f"requires {self.min_args} {word}")
        if len(args) < self.min_args:
            raise self._count_error(f"requires at least {self.min_args} {word}")
        if self.max_args is not None and len(args) > self.max_args:
            if self.max_args == 0:
                raise self._count_error("accepts no arguments")
            word = "argument" if self.max_args == 1 else "arguments"
            raise self._count_error(f"requires at most {self.max_args} {word}")

    def _set(self, flag: Flag, value: str | None, values: dict[str, Any],
             changed: set[str]) -> None:
        changed.add(flag.dest)
        if flag.kind == BOOL:
            if value is None or value in _TRUE:
                converted: Any = True
            elif value in _FALSE:
                converted = False
            else:
                raise self._invalid(flag, value, f'strconv.ParseBool: parsing "{value}": '
                                    "invalid syntax")
            values[flag.dest] = converted
            return
        assert value is not None
        try:
            if flag.convert is not None:
                converted = flag.convert(value)
            elif flag.kind == INT:
                converted = _parse_int(value)
            else:
                converted = value
        except ValueError as e:
            raise self._invalid(flag, value, str(e)) from None
        if flag.kind == LIST:
            values[flag.dest].append(converted)
        else:
            values[flag.dest] = converted

    def _invalid(self, flag: Flag, value: str, message: str) -> UsageError:
        return self._error(f'invalid argument "{value}" for "{flag.display}" flag: {message}')
