"""Stop signals: Docker's names (``SIGTERM``, ``TERM``, ``term``), numbers, ``SIGRTMIN+3``."""

from __future__ import annotations

import signal

from cove.errors import InvalidArgument

__all__ = ["DEFAULT_STOP_SIGNAL", "parse_signal", "signal_name"]

DEFAULT_STOP_SIGNAL = int(signal.SIGTERM)

# Linux numbers; the table is built from the signal module so it matches the host's libc.
_RTMIN = int(signal.SIGRTMIN)
_RTMAX = int(signal.SIGRTMAX)


def _named() -> dict[str, int]:
    names = {s.name[3:]: int(s) for s in signal.Signals
             if s.name.startswith("SIG") and not s.name.startswith("SIG_")
             and s.name not in ("SIGRTMIN", "SIGRTMAX")}
    names.setdefault("CLD", int(signal.SIGCHLD))
    names.setdefault("IOT", int(signal.SIGABRT))
    names.setdefault("POLL", int(signal.SIGIO))
    return names


def parse_signal(value: str | int, field: str = "StopSignal") -> int:
    """A signal name or number as Docker accepts it, to its number.

    ``"SIGKILL"``, ``"KILL"``, ``"kill"``, ``"9"``, ``9``, ``"SIGRTMIN+3"``, ``"RTMAX-1"``.
    Raises :class:`InvalidArgument` naming ``field``.
    """
    if isinstance(value, bool):
        raise InvalidArgument(f"invalid {field}: {value!r} (invalid signal)")
    if isinstance(value, int):
        number = value
    else:
        parsed = _from_text(value.strip().upper())
        if parsed is None:
            raise InvalidArgument(f"Invalid signal: {value}")
        number = parsed
    if not 1 <= number <= _RTMAX:
        raise InvalidArgument(f"Invalid signal: {value}")
    return number


def _from_text(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    name = text[3:] if text.startswith("SIG") else text
    named = _named()
    if name in named:
        return named[name]
    for base_name, base in (("RTMIN", _RTMIN), ("RTMAX", _RTMAX)):
        if name == base_name:
            return base
        for sign in ("+", "-"):
            if name.startswith(base_name + sign):
                offset = name[len(base_name) + 1:]
                if not offset.isdigit():
                    return None
                number = base + int(offset) if sign == "+" else base - int(offset)
                return number if _RTMIN <= number <= _RTMAX else None
    return None


def signal_name(number: int) -> str:
    """``15`` -> ``"SIGTERM"``; real-time signals as ``SIGRTMIN+n``."""
    for name, value in sorted(_named().items()):
        if value == number:
            return "SIG" + name
    if _RTMIN <= number <= _RTMAX:
        return "SIGRTMIN" if number == _RTMIN else f"SIGRTMIN+{number - _RTMIN}"
    return str(number)
