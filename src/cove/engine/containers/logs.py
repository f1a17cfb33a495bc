"""Reading container logs written by conmon (its "k8s-file" format) the way Docker serves them.

Each line of the file is ``<RFC 3339 nano timestamp> <stdout|stderr> <F|P> <bytes>``:
``P`` marks a partial line (the rest follows in later records), ``F`` a full one.
Rotated files are ``<log>.1`` (newest) … ``<log>.N`` (oldest).
"""

from __future__ import annotations

import os
import struct
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

STDIN, STDOUT, STDERR = 0, 1, 2
_STREAMS = {b"stdout": STDOUT, b"stderr": STDERR}


@dataclass(frozen=True)
class LogRecord:
    timestamp: str  # RFC 3339 with nanoseconds, as conmon wrote it
    stream: int
    data: bytes  # one line, with its newline when it had one


def parse_time_arg(value: str | None) -> float | None:
    """Docker's since/until: unix seconds (with fraction) or RFC 3339."""
    if value is None or value in ("", "0"):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    from cove.engine.timeutil import parse_rfc3339
    return parse_rfc3339(value)


def record_time(ts: str) -> float:
    from cove.engine.timeutil import parse_rfc3339
    return parse_rfc3339(ts)


def log_files(path: str) -> list[str]:
    """Oldest first: the rotated files, then the live one."""
    rotated = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        rotated.append(f"{path}.{n}")
        n += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


class _Assembler:
    """Turns conmon records into whole lines, joining partial ones per stream."""

    def __init__(self) -> None:
        self._partial: dict[int, tuple[str, bytes]] = {}

    def feed(self, line: bytes) -> LogRecord | None:
        try:
            ts, stream_name, tag, data = line.split(b" ", 3)
        except ValueError:
            # "... F" with an empty payload has no fourth field.
            parts = line.rstrip(b"\n").split(b" ")
            if len(parts) != 3:
                return None
            ts, stream_name, tag = parts
            data = b"\n"
        stream = _STREAMS.get(stream_name)
        if stream is None:
            return None
        if tag == b"P":
            prev = self._partial.get(stream)
            start = prev[0] if prev else ts.decode()
            self._partial[stream] = (start, (prev[1] if prev else b"") + data.rstrip(b"\n"))
            return None
        prev = self._partial.pop(stream, None)
        if prev is not None:
            return LogRecord(prev[0], stream, prev[1] + data)
        return LogRecord(ts.decode(), stream, data)


def live_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def read_records(path: str) -> Iterator[LogRecord]:
    asm = _Assembler()
    for name in log_files(path):
        try:
            with open(name, "rb") as f:
                for line in f:
                    rec = asm.feed(line)
                    if rec is not None:
                        yield rec
        except FileNotFoundError:
            continue


@dataclass
class LogQuery:
    stdout: bool = True
    stderr: bool = True
    since: float | None = None
    until: float | None = None
    tail: int | None = None  # None: all
    timestamps: bool = False
    follow: bool = False
    # Attach: only what is written from this byte offset of the live file on.
    start_offset: int | None = None


def _wanted(rec: LogRecord, q: LogQuery) -> bool:
    if rec.stream == STDOUT and not q.stdout:
        return False
    if rec.stream == STDERR and not q.stderr:
        return False
    if q.since is not None or q.until is not None:
        t = record_time(rec.timestamp)
        if q.since is not None and t < q.since:
            return False
        if q.until is not None and t > q.until:
            return False
    return True


def frame(stream: int, data: bytes) -> bytes:
    """Docker's multiplexed stream: [stream, 0, 0, 0, size (big endian u32)] + data."""
    return struct.pack(">BxxxI", stream, len(data)) + data


def render(rec: LogRecord, q: LogQuery, tty: bool) -> bytes:
    data = rec.data
    if q.timestamps:
        data = rec.timestamp.encode() + b" " + data
    return data if tty else frame(rec.stream, data)


def stream_logs(path: str, q: LogQuery, tty: bool, still_running: Callable[[], bool],
                idle: Callable[[float], None] = time.sleep) -> Generator[bytes, None, None]:
    """The log as the API sends it; with ``follow``, keeps reading until the container ends.

    The live file is opened once and read to its end for the history, then followed
    from that same position: no record can fall between the two.
    """
    asm = _Assembler()
    if q.start_offset is not None:
        try:
            live = open(path, "rb")  # noqa: SIM115 (held across yields)
        except FileNotFoundError:
            live = None
        try:
            if live is not None:
                live.seek(min(q.start_offset, os.fstat(live.fileno()).st_size))
            yield from _follow(path, live, asm, q, tty, still_running, idle)
        finally:
            if live is not None:
                live.close()
        return
    history: deque[LogRecord] = deque(
        maxlen=q.tail if q.tail is not None and q.tail >= 0 else None)
    for name in log_files(path)[:-1] if os.path.exists(path) else log_files(path):
        with open(name, "rb") as old:
            for line in old:
                rec = asm.feed(line)
                if rec is not None and _wanted(rec, q):
                    history.append(rec)
    live = None
    try:
        try:
            live = open(path, "rb")  # noqa: SIM115 (held across yields)
        except FileNotFoundError:
            live = None
        if live is not None:
            for line in iter(live.readline, b""):
                if not line.endswith(b"\n"):
                    live.seek(-len(line), os.SEEK_CUR)
                    break
                rec = asm.feed(line)
                if rec is not None and _wanted(rec, q):
                    history.append(rec)
        for rec in history:
            yield render(rec, q, tty)
        if q.follow:
            yield from _follow(path, live, asm, q, tty, still_running, idle)
    finally:
        if live is not None:
            live.close()


def _follow(path: str, f: BinaryIO | None, asm: _Assembler, q: LogQuery, tty: bool,
            still_running: Callable[[], bool],
            idle: Callable[[float], None] = time.sleep) -> Iterator[bytes]:
    """``idle(seconds)`` waits for more output; the daemon's returns early when the
    container ends, so a follower (attach, logs -f) is not a poll interval late."""
    inode = os.fstat(f.fileno()).st_ino if f is not None else None
    opened: list[BinaryIO] = []
    try:
        while True:
            if f is None:
                try:
                    f = open(path, "rb")  # noqa: SIM115 (held across yields)
                except FileNotFoundError:
                    if not still_running():
                        return
                    idle(0.1)
                    continue
                opened.append(f)
                inode = os.fstat(f.fileno()).st_ino
            line = f.readline()
            if line.endswith(b"\n"):
                rec = asm.feed(line)
                if rec is not None and _wanted(rec, q):
                    yield render(rec, q, tty)
                elif rec is not None and q.until is not None and \
                        record_time(rec.timestamp) > q.until:
                    return
                continue
            if line:
                f.seek(-len(line), os.SEEK_CUR)
            # Read the state before checking for more data: an exit seen here means
            # everything the container wrote is already in the file.
            running = still_running()
            try:
                rotated = os.stat(path).st_ino != inode
            except FileNotFoundError:
                rotated = True
            if rotated:
                for raw in f.read().splitlines(keepends=True):
                    rec = asm.feed(raw)
                    if rec is not None and _wanted(rec, q):
                        yield render(rec, q, tty)
                f = None
                continue
            if not running:
                for raw in f.read().splitlines(keepends=True):
                    rec = asm.feed(raw)
                    if rec is not None and _wanted(rec, q):
                        yield render(rec, q, tty)
                return
            idle(0.05)
    finally:
        for handle in opened:
            handle.close()
