"""Attaching a client's connection to a container's stdio through conmon's attach socket.

conmon keeps a SOCK_SEQPACKET socket per container: each packet it sends starts with
one byte naming the stream (1 stdout, 2 stderr) followed by the data; what a client
writes is the container's stdin. The API client gets Docker's framing instead: the
8-byte multiplexed header per chunk, or the raw bytes when the container has a tty.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cove.engine.containers.logs import frame
from cove.engine.monitor import MonitorPaths, attach_key
from cove.errors import Conflict, InvalidArgument

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q
_PACKET = 8192 + 1


@dataclass
class AttachStreams:
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    logs: bool = False
    stream: bool = False


def parse_detach_keys(spec: str | None) -> bytes:
    """Docker's --detach-keys: "ctrl-p,ctrl-q", "a,ctrl-@"; "" keeps the default."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    out = bytearray()
    for part in spec.split(","):
        key = part.strip()
        if len(key) == 1:
            out.append(ord(key))
            continue
        lowered = key.lower()
        if lowered.startswith("ctrl-") and len(key) == 6:
            ch = key[5].lower()
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
                continue
            special = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if ch in special:
                out.append(special[ch])
                continue
        raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


def connect_attach_socket(paths: MonitorPaths, cid: str) -> socket.socket:
    directory = os.path.join(paths.socket_dir, attach_key(cid))
    # A long exec-root could push the path past sun_path's 108 bytes: go through a
    # descriptor of the directory instead.
    dfd = os.open(directory, os.O_PATH | os.O_CLOEXEC)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{dfd}/attach")
        except OSError as e:
            sock.close()
            raise Conflict(f"cannot attach to container {cid[:12]}: {e.strerror}") from e
        return sock
    finally:
        os.close(dfd)


def attach(c_log_path: str | None, paths: MonitorPaths, cid: str, client: socket.socket,
           rfile: BinaryIO, streams: AttachStreams, tty: bool, detach_keys: bytes,
           log_offset: int, running: Callable[[], bool],
           mon: socket.socket | None = None,
           idle: Callable[[float], None] = time.sleep) -> None:
    """Proxy until the container ends, the client leaves, or it types the detach keys.

    Output comes from the log file, followed from ``log_offset``: conmon writes every
    byte there before anything else, so a fast container's output cannot slip past an
    attach socket that conmon has not accepted yet. stdin goes through the attach
    socket. With the "none" log driver the attach socket carries the output too.
    """
    done = threading.Event()
    if mon is None and (streams.stdin or c_log_path is None):
        try:
            mon = connect_attach_socket(paths, cid)
        except (FileNotFoundError, Conflict):
            mon = None
    if streams.stdin and mon is not None:
        threading.Thread(target=_pump_stdin, args=(rfile, client, mon, detach_keys, done),
                         name="attach-stdin", daemon=True).start()
    try:
        if c_log_path is not None:
            _output_from_log(c_log_path, client, streams, tty, log_offset,
                             lambda: running() and not done.is_set(), done, idle)
        elif mon is not None:
            _output_from_socket(mon, client, streams, tty, done)
    except OSError:
        pass
    finally:
        done.set()
        if mon is not None:
            with contextlib.suppress(OSError):
                mon.close()


def _pump_stdin(rfile: BinaryIO, client: socket.socket, mon: socket.socket,
                detach_keys: bytes, done: threading.Event) -> None:
    matched = 0
    try:
        while not done.is_set():
            data = _read_some(rfile)
            if not data:
                # The client closed its stdin: close the container's (StdinOnce).
                with contextlib.suppress(OSError):
                    mon.shutdown(socket.SHUT_WR)
                return
            if detach_keys:
                out = bytearray()
                for b in data:
                    if b == detach_keys[matched]:
                        matched += 1
                        if matched == len(detach_keys):
                            done.set()
                            with contextlib.suppress(OSError):
                                client.shutdown(socket.SHUT_RDWR)
                            return
                        continue
                    if matched:
                        out += detach_keys[:matched]
                        matched = 0
                    out.append(b)
                data = bytes(out)
            if data:
                mon.sendall(data)
    except OSError:
        return


def _output_from_log(path: str, client: socket.socket, streams: AttachStreams, tty: bool,
                     offset: int, running: Callable[[], bool], done: threading.Event,
                     idle: Callable[[float], None]) -> None:
    from cove.engine.containers.logs import LogQuery, stream_logs
    query = LogQuery(stdout=streams.stdout, stderr=streams.stderr, follow=True,
                     start_offset=offset)
    if not (streams.stdout or streams.stderr):
        while running():
            done.wait(0.2)
        return
    chunks = stream_logs(path, query, tty, running, idle)
    try:
        for chunk in chunks:
            if done.is_set():
                return
            client.sendall(chunk)
    finally:
        chunks.close()


def _output_from_socket(mon: socket.socket, client: socket.socket, streams: AttachStreams,
                        tty: bool, done: threading.Event) -> None:
    while not done.is_set():
        ready, _, _ = select.select([mon], [], [], 1.0)
        if not ready:
            continue
        packet = mon.recv(_PACKET)
        if not packet:
            return
        stream, data = packet[0], packet[1:]
        if (stream == 1 and not streams.stdout) or (stream == 2 and not streams.stderr):
            continue
        if stream not in (1, 2):
            continue
        client.sendall(data if tty else frame(stream, data))


def _read_some(rfile: BinaryIO) -> bytes:
    """What the client sent next: bytes the HTTP reader buffered first, then one recv."""
    read1 = getattr(rfile, "read1", None)
    if read1 is not None:
        data: bytes = read1(65536)
        return data
    return rfile.read(1)
