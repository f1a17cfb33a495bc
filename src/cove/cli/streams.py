"""The Engine API's multiplexed stdio stream (attach, logs, exec without a tty).

Each frame is an 8-byte header -- stream type (0 stdin, 1 stdout, 2 stderr,
3 systemerr), three zero bytes, the payload size as big-endian uint32 -- then
the payload. Frames may be split or joined arbitrarily by the transport, so
the decoder keeps what it has not yet framed.
"""

from __future__ import annotations

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER_SIZE = 8


class FrameError(ValueError):
    """The bytes are not a multiplexed stream."""


class Demuxer:
    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Frames completed by ``data``, in order, as (stream type, payload)."""
        self._buf += data
        frames = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= HEADER_SIZE:
            kind = buf[pos]
            if kind > SYSTEMERR or buf[pos + 1] or buf[pos + 2] or buf[pos + 3]:
                raise FrameError(f"bad stream header {bytes(buf[pos:pos + 8])!r}")
            size = int.from_bytes(buf[pos + 4:pos + 8], "big")
            end = pos + HEADER_SIZE + size
            if len(buf) < end:
                break
            frames.append((kind, bytes(buf[pos + HEADER_SIZE:end])))
            pos = end
        del buf[:pos]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame (non-zero at EOF means a truncated stream)."""
        return len(self._buf)


def frame(kind: int, payload: bytes) -> bytes:
    """Encode one frame (tests and test servers use it)."""
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
