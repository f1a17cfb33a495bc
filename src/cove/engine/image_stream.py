"""Long image operations (pull, push) as the Engine API's JSON message streams.

The operation runs on a worker thread and reports through a message sink; the
request thread turns the messages into JSON lines.  Docker's rule for errors is
kept: an error before the first message becomes the response's status (404 for an
unknown repository, 401, ...); one after it is the stream's last line,
``{"errorDetail": {"message": ...}, "error": ...}``.

When the client goes away (the server closes the stream's iterator, or the socket
hangs up while nothing is sent), the sink raises :class:`Cancelled` at the
operation's next message, which aborts it the way any error does: its lease ends
and nothing half-made stays named.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from cove.errors import CoveError
from cove.images.service import ImageService
from cove.snapshots import OverlaySnapshotter

log = logging.getLogger(__name__)

Message = dict[str, Any]
Sink = Callable[[Message], None]

POLL_SECONDS = 0.5
PIPE_CHUNK = 1 << 20


class Cancelled(CoveError):
    """The client that asked for the operation is gone."""


def worker_service(images: ImageService) -> ImageService:
    """An ImageService of the worker thread's own on the same root.

    The daemon's service is a per-thread proxy whose SQLite connection belongs to
    the thread that opened it; a worker opens (and closes) its own instead of
    leaving one behind in every short-lived thread.
    """
    name = "overlay" if isinstance(images.snapshotter, OverlaySnapshotter) else "native"
    return ImageService(images.root, certs_dir=images.certs_dir, snapshotter=name)


def json_line(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def error_message(error: BaseException) -> Message:
    text = str(error) or type(error).__name__
    return {"errorDetail": {"message": text}, "error": text}


@dataclass
class _Done:
    error: BaseException | None


class ProgressStream:
    """``work(sink)`` on a worker thread, its messages as JSON lines."""

    def __init__(self, work: Callable[[Sink], None], *, name: str,
                 client_gone: Callable[[], bool]) -> None:
        self._work = work
        self._client_gone = client_gone
        self._queue: queue.Queue[Message | _Done] = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _sink(self, message: Message) -> None:
        # The client is also asked here: if it left before the response began, no
        # reader is there to notice (messages are throttled, so the poll is cheap).
        if self._cancel.is_set() or self._client_gone():
            self._cancel.set()
            raise Cancelled("the client closed the connection")
        self._queue.put(message)

    def _run(self) -> None:
        try:
            self._work(self._sink)
        except BaseException as e:  # every failure ends the stream, none the daemon
            if isinstance(e, Cancelled):
                log.info("%s cancelled: the client went away", self._thread.name)
            elif not isinstance(e, CoveError):
                log.exception("%s failed", self._thread.name)
            self._queue.put(_Done(e))
        else:
            self._queue.put(_Done(None))

    def _next(self) -> Message | _Done:
        while True:
            try:
                return self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self._client_gone():
                    self._cancel.set()

    def start(self) -> Iterator[bytes]:
        """Start; wait for the first message; raise the error if that comes first."""
        self._thread.start()
        first = self._next()
        if isinstance(first, _Done):
            if first.error is not None:
                raise first.error
            return iter(())
        return self._lines(first)

    def _lines(self, first: Message) -> Iterator[bytes]:
        try:
            yield json_line(first)
            while True:
                item = self._next()
                if isinstance(item, _Done):
                    if item.error is not None:
                        yield json_line(error_message(item.error))
                    return
                yield json_line(item)
        finally:
            # Closed early (client gone): stop the operation at its next message.
            self._cancel.set()


def piped(write: Callable[[BinaryIO], None], *, name: str) -> Iterator[bytes]:
    """Chunks of what ``write(out)`` writes, produced on a thread through a pipe.

    The pipe gives back-pressure (a slow client slows the writer, nothing piles up
    in memory); closing the iterator closes the read end, so the writer fails
    with EPIPE and its thread ends.  Nothing is made before the first chunk is
    asked for: a response that is never sent leaves no pipe or thread behind.
    """
    def chunks() -> Iterator[bytes]:
        read_fd, write_fd = os.pipe()
        reader = os.fdopen(read_fd, "rb", buffering=0)
        writer = os.fdopen(write_fd, "wb")
        failure: list[BaseException] = []

        def run() -> None:
            try:
                write(writer)
            except BrokenPipeError:
                log.info("%s: the client went away", name)
            except BaseException as e:
                log.exception("%s failed", name)
                failure.append(e)
            finally:
                with contextlib.suppress(BrokenPipeError):
                    writer.close()

        thread = threading.Thread(target=run, name=name, daemon=True)
        try:
            thread.start()
            while data := reader.read(PIPE_CHUNK):
                yield data
            thread.join()
            if failure:
                # Headers are gone: cutting the body short is all that is left.
                raise failure[0]
        finally:
            reader.close()
            if thread.ident is None:  # never started: the write end is still ours
                writer.close()

    return chunks()


__all__ = ["Cancelled", "ProgressStream", "error_message", "json_line", "piped",
           "worker_service"]
