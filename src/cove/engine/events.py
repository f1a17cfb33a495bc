"""The daemon's event log: a bounded ring of recent events and live subscribers."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

RING_SIZE = 1024


@dataclass(frozen=True)
class Event:
    type: str  # container | image | network | volume | daemon
    action: str
    actor_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_nano: int = field(default_factory=time.time_ns)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Type": self.type, "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
            "scope": "local", "time": self.time_nano // 1_000_000_000,
            "timeNano": self.time_nano,
        }
        if self.type == "container":
            # The pre-1.22 fields, still read by some clients.
            out["status"] = self.action
            out["id"] = self.actor_id
            if "image" in self.attributes:
                out["from"] = self.attributes["image"]
        return out


class EventLog:
    def __init__(self) -> None:
        self._ring: deque[Event] = deque(maxlen=RING_SIZE)
        self._cond = threading.Condition()
        self._seq = 0

    def emit(self, type_: str, action: str, actor_id: str,
             attributes: dict[str, str] | None = None) -> Event:
        event = Event(type_, action, actor_id, dict(attributes or {}))
        with self._cond:
            self._ring.append(event)
            self._seq += 1
            self._cond.notify_all()
        return event

    def since(self, since_ns: int | None, until_ns: int | None) -> list[Event]:
        with self._cond:
            return [e for e in self._ring
                    if (since_ns is None or e.time_nano >= since_ns)
                    and (until_ns is None or e.time_nano <= until_ns)]

    def follow(self, since_ns: int | None, until_ns: int | None,
               stop: threading.Event) -> Iterator[Event | None]:
        """Past events from ``since_ns``, then live ones; yields None as a keep-alive tick."""
        with self._cond:
            past = [e for e in self._ring if since_ns is not None and e.time_nano >= since_ns]
            seq = self._seq
        for e in past:
            if until_ns is not None and e.time_nano > until_ns:
                return
            yield e
        while not stop.is_set():
            with self._cond:
                if self._seq == seq:
                    self._cond.wait(timeout=1.0)
                new = self._seq - seq
                fresh = list(self._ring)[-new:] if new > 0 else []
                seq = self._seq
            if until_ns is not None and time.time_ns() > until_ns:
                return
            if not fresh:
                yield None
            for e in fresh:
                if until_ns is not None and e.time_nano > until_ns:
                    return
                yield e
