"""The local terminal: raw mode, its size, and the detach-key sequence."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_PUNCT = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(spec: str) -> bytes:
    """``ctrl-p,ctrl-q`` → b"\\x10\\x11"; single characters stand for themselves."""
    out = bytearray()
    for key in spec.split(","):
        low = key.lower()
        if len(key) == 1:
            out.append(ord(key))
        elif low.startswith("ctrl-") and len(low) == 6:
            c = low[5]
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in _CTRL_PUNCT:
                out.append(_CTRL_PUNCT[c])
            else:
                raise ValueError(f"Unknown character: '{key}'")
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class DetachScanner:
    """Passes input through, holding back a prefix of the detach sequence.

    ``feed`` returns (bytes to send, detached?). A held prefix that turns out
    not to be the sequence is sent with the byte that broke it, as docker does.
    """

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            if byte == self.keys[self._held]:
                self._held += 1
                if self._held == len(self.keys):
                    self._held = 0
                    return bytes(out), True
                continue
            if self._held:
                out += self.keys[:self._held]
                self._held = 0
                if byte == self.keys[0]:
                    self._held = 1
                    continue
            out.append(byte)
        return bytes(out), False


def is_terminal(fd: int) -> bool:
    return os.isatty(fd)


def size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on ``fd``, None if it has none."""
    try:
        cols, rows = os.get_terminal_size(fd)
    except OSError:
        return None
    return rows, cols


class RawMode:
    """Puts a terminal in raw mode for the ``with`` block and restores it after.

    Does nothing when not ``enabled`` or when ``fd`` is no terminal.
    """

    def __init__(self, fd: int, enabled: bool = True) -> None:
        self.fd = fd
        self.enabled = enabled
        self._saved: Any = None

    def __enter__(self) -> RawMode:
        if self.enabled and os.isatty(self.fd):
            import termios
            import tty

            self._saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None


def on_resize(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` on SIGWINCH; returns a function that restores the old handler."""
    import signal

    old = signal.signal(signal.SIGWINCH, lambda _sig, _frame: callback())

    def restore() -> None:
        signal.signal(signal.SIGWINCH, old)

    return restore
