"""Progress of pulls and pushes as the Docker Engine API's JSON message stream.

``POST /images/create`` and ``POST /images/{name}/push`` answer with one JSON
object per line: ``{"status": "Downloading", "progressDetail": {"current": N,
"total": M}, "progress": "[==>  ] 1.2MB/3.4MB", "id": "<12 hex>"}`` and the
like.  Pull and push build those objects here and hand them to a
:data:`MessageSink`, so the daemon only has to serialise them.

A :class:`Reporter` serialises the calls (pull downloads several layers at
once, from threads) and throttles byte counts: one event per layer every
512 KiB or 100 ms, and always the last one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

Message = dict[str, Any]
MessageSink = Callable[[Message], None]

THROTTLE_BYTES: Final = 512 << 10
THROTTLE_SECONDS: Final = 0.1
BAR_WIDTH: Final = 50

_UNITS: Final = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def short_id(digest: str) -> str:
    """The 12 hex digits docker shows for a layer (``sha256:`` dropped)."""
    return digest.split(":", 1)[-1][:12]


def human_size(n: float) -> str:
    """Decimal units with four significant digits, as docker prints sizes (``1.235MB``)."""
    i = 0
    while n >= 1000 and i < len(_UNITS) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.4g}{_UNITS[i]}"


def progress_text(current: int, total: int) -> str:
    """The ``progress`` string: a 50-column bar (no terminal: docker's wide form) and counts."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(BAR_WIDTH, int(current / total * 100) // 2)
    bar = "[" + "=" * filled + ">" + " " * (BAR_WIDTH - filled) + "] "
    if current > total:  # a count past the total is shown alone, as docker does
        return bar + f"{human_size(current):>8}"
    return bar + f"{human_size(current):>8}/{human_size(total)}"


def status(text: str, ident: str | None = None) -> Message:
    msg: Message = {"status": text}
    if ident is not None:
        msg["progressDetail"] = {}
        msg["id"] = ident
    return msg


def progress(action: str, ident: str, current: int, total: int) -> Message:
    return {
        "status": action,
        "progressDetail": {"current": current, "total": total},
        "progress": progress_text(current, total),
        "id": ident,
    }


class Reporter:
    """A thread-safe, throttling front of a sink; a no-op without one."""

    def __init__(self, sink: MessageSink | None, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._sink = sink
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[int, float]] = {}

    @property
    def enabled(self) -> bool:
        return self._sink is not None

    def emit(self, msg: Message) -> None:
        if self._sink is None:
            return
        with self._lock:
            self._sink(msg)

    def status(self, text: str, ident: str | None = None) -> None:
        if self._sink is not None:
            self.emit(status(text, ident))

    def bytes(self, action: str, ident: str, current: int, total: int) -> None:
        """A byte count, dropped if the last one of ``(action, ident)`` is too recent."""
        if self._sink is None:
            return
        now = self._clock()
        key = (action, ident)
        with self._lock:
            last = self._last.get(key)
            final = total > 0 and current >= total
            if last is not None and not final and 0 <= current - last[0] < THROTTLE_BYTES \
                    and now - last[1] < THROTTLE_SECONDS:
                return
            self._last[key] = (current, now)
            self._sink(progress(action, ident, current, total))


def reporter(sink: Reporter | MessageSink | None) -> Reporter:
    """``sink`` as a :class:`Reporter` (itself if it is one, so callers share its lock)."""
    return sink if isinstance(sink, Reporter) else Reporter(sink)


def retry_text(delay: float) -> str:
    seconds = max(1, round(delay))
    return f"Retrying in {seconds} second{'s' if seconds != 1 else ''}"


__all__ = ["Message", "MessageSink", "Reporter", "human_size", "progress", "progress_text",
           "reporter", "retry_text", "short_id", "status"]
