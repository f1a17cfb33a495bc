"""The multiplexed stdio framing and the detach-key scanner."""

from __future__ import annotations

import pytest

from cove.cli.streams import STDERR, STDOUT, Demuxer, FrameError, frame
from cove.cli.tty import DetachScanner, parse_detach_keys


def test_frames_split_at_every_byte() -> None:
    data = frame(STDOUT, b"hello\n") + frame(STDERR, b"oops\n") + frame(STDOUT, b"")
    d = Demuxer()
    got = []
    for i in range(len(data)):
        got += d.feed(data[i:i + 1])
    assert got == [(STDOUT, b"hello\n"), (STDERR, b"oops\n"), (STDOUT, b"")]
    assert d.pending == 0


def test_frames_joined() -> None:
    d = Demuxer()
    big = b"x" * 100_000
    assert d.feed(frame(STDOUT, big) + frame(STDERR, b"e")[:5]) == [(STDOUT, big)]
    assert d.pending == 5
    assert d.feed(frame(STDERR, b"e")[5:]) == [(STDERR, b"e")]


def test_bad_header() -> None:
    with pytest.raises(FrameError):
        Demuxer().feed(b"hello world, not framed")


def test_detach_keys() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert parse_detach_keys("ctrl-@,ctrl-[") == b"\x00\x1b"
    with pytest.raises(ValueError):
        parse_detach_keys("ctrl-1")
    with pytest.raises(ValueError):
        parse_detach_keys("alt-x")


def test_scanner_detects_sequence_across_reads() -> None:
    s = DetachScanner(b"\x10\x11")
    assert s.feed(b"ab\x10") == (b"ab", False)
    assert s.feed(b"\x11rest") == (b"", True)


def test_scanner_releases_false_prefix() -> None:
    s = DetachScanner(b"\x10\x11")
    assert s.feed(b"\x10x") == (b"\x10x", False)
    assert s.feed(b"\x10\x10\x11") == (b"\x10", True)


def test_scanner_without_keys() -> None:
    assert DetachScanner(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
