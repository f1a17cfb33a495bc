"""The JSON message stream of pull/push/load/import, shown as docker shows it.

On a terminal every layer id owns one line, redrawn in place (cursor up,
clear line, rewrite, cursor down) with a bar, bytes, rate and ETA computed
here from ``progressDetail`` (the daemon's own ``progress`` text is used only
when it sends no numbers). Elsewhere the progress updates are left out and
every other message is one plain line, so logs stay readable.
"""

from __future__ import annotations

import time

from cove.cli import units
from cove.cli.errors import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO


class StreamError(CliError):
    """An ``error`` message inside the stream (the request itself had succeeded)."""


def format_eta(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class _Rate:
    __slots__ = ("bytes0", "t0")

    def __init__(self, t0: float, bytes0: int) -> None:
        self.t0 = t0
        self.bytes0 = bytes0


class ProgressRenderer:
    def __init__(self, out: TextIO, tty: bool, width: int = 80,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.tty = tty
        self.width = width
        self.clock = clock
        self._line_of: dict[str, int] = {}
        self._lines = 0
        self._rates: dict[tuple[str, str], _Rate] = {}

    def progress_text(self, ident: str, status: str, detail: dict[str, Any]) -> str:
        current = int(detail.get("current", 0) or 0)
        total = int(detail.get("total", 0) or 0)
        now = self.clock()
        key = (ident, status)
        rate = self._rates.get(key)
        if rate is None:
            rate = self._rates[key] = _Rate(now, current)
        elapsed = now - rate.t0
        speed = (current - rate.bytes0) / elapsed if elapsed > 0 else 0.0
        parts = []
        if total > 0:
            bar_width = 50 if self.width >= 110 else 25
            filled = min(bar_width, bar_width * current // total)
            arrow = ">" if filled < bar_width else ""
            bar = "=" * filled + arrow
            parts.append(f"[{bar.ljust(bar_width)}]")
            parts.append(f"{units.human_size(current):>8}/{units.human_size(total)}")
        else:
            parts.append(f"{units.human_size(current):>8}")
        if speed > 0:
            parts.append(f"{units.human_size(speed)}/s")
            if total > current:
                parts.append(f"ETA {format_eta((total - current) / speed)}")
        return " ".join(parts)

    def feed(self, msg: dict[str, Any]) -> None:
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            raise StreamError(str(detail.get("message") or msg.get("error")))
        stream = msg.get("stream")
        if isinstance(stream, str):
            self.out.write(stream)
            self.out.flush()
            return
        status = str(msg.get("status", "") or "")
        if not status:
            return
        ident = str(msg.get("id", "") or "")
        detail = msg.get("progressDetail") or {}
        has_progress = bool(detail.get("current") or detail.get("total")) or bool(
            msg.get("progress"))
        if not self.tty:
            if has_progress:
                return
            self.out.write(f"{ident}: {status}\n" if ident else f"{status}\n")
            self.out.flush()
            return
        text = status
        if detail.get("current") or detail.get("total"):
            text += " " + self.progress_text(ident, status, detail)
        elif msg.get("progress"):
            text += " " + str(msg["progress"])
        if not ident:
            self.out.write(text + "\n")
            self._lines += 1
        elif ident not in self._line_of:
            self._line_of[ident] = self._lines
            self._lines += 1
            self.out.write(f"{ident}: {text}\n")
        else:
            up = self._lines - self._line_of[ident]
            self.out.write(f"\x1b[{up}A\x1b[2K\r{ident}: {text}\r\x1b[{up}B")
        self.out.flush()
