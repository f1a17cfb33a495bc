"""A shared/exclusive lock between creates and prunes.

Creates hold it shared from the moment they look their image and volumes up until the
container's record keeps them; a prune holds it exclusively while it chooses and removes,
so it never takes what a ``run`` is about to use.  Creates never wait on each other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class PruneLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting_exclusive = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            # A waiting prune goes first, so a stream of runs cannot starve it.
            self._cond.wait_for(lambda: not self._exclusive and not self._waiting_exclusive)
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting_exclusive += 1
            try:
                self._cond.wait_for(lambda: not self._exclusive and not self._shared)
            finally:
                self._waiting_exclusive -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()
