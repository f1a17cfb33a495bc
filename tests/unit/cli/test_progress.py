"""The pull/push progress display, on a terminal and in a log."""

from __future__ import annotations

import io

import pytest

from cove.cli.progress import ProgressRenderer, StreamError, format_eta


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


MESSAGES = [
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Pulling fs layer", "id": "aaa"},
    {"status": "Pulling fs layer", "id": "bbb"},
    {"status": "Downloading", "id": "aaa", "progressDetail": {"current": 0, "total": 4000000}},
    {"status": "Downloading", "id": "aaa",
     "progressDetail": {"current": 2000000, "total": 4000000}},
    {"status": "Pull complete", "id": "aaa"},
    {"status": "Digest: sha256:abc"},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]


def test_plain_output_skips_progress_updates() -> None:
    out = io.StringIO()
    r = ProgressRenderer(out, tty=False)
    for m in MESSAGES:
        r.feed(m)
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\naaa: Pulling fs layer\nbbb: Pulling fs layer\n"
        "aaa: Pull complete\nDigest: sha256:abc\n"
        "Status: Downloaded newer image for busybox:latest\n")


def test_terminal_redraws_each_layer_in_place() -> None:
    out = io.StringIO()
    clock = Clock()
    r = ProgressRenderer(out, tty=True, width=80, clock=clock)
    for m in MESSAGES[:4]:
        r.feed(m)
    clock.now += 2.0
    r.feed(MESSAGES[4])
    text = out.getvalue()
    # three lines written, then "aaa" (line 1 of 3) is redrawn two lines up
    assert text.startswith("latest: Pulling from library/busybox\naaa: Pulling fs layer\n"
                           "bbb: Pulling fs layer\n")
    last = text.rsplit("\x1b[2A", 1)[1]
    assert last.startswith("\x1b[2K\raaa: Downloading [============>")
    assert "2MB/4MB" in last and "1MB/s" in last and "ETA 2s" in last
    assert last.endswith("\r\x1b[2B")
    r.feed(MESSAGES[5])
    assert out.getvalue().endswith("\x1b[2A\x1b[2K\raaa: Pull complete\r\x1b[2B")
    r.feed(MESSAGES[6])
    assert out.getvalue().endswith("Digest: sha256:abc\n")
    # a line without id moves the bottom: the next redraw of aaa goes 3 lines up
    r.feed({"status": "Extracting", "id": "aaa"})
    assert "\x1b[3A\x1b[2K\raaa: Extracting" in out.getvalue()


def test_daemon_progress_text_used_without_numbers() -> None:
    out = io.StringIO()
    r = ProgressRenderer(out, tty=True)
    r.feed({"status": "Waiting", "id": "x", "progress": "[==>   ] soon"})
    assert out.getvalue() == "x: Waiting [==>   ] soon\n"


def test_error_message_raises() -> None:
    r = ProgressRenderer(io.StringIO(), tty=False)
    with pytest.raises(StreamError, match="manifest unknown"):
        r.feed({"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"})


def test_stream_messages_pass_through() -> None:
    out = io.StringIO()
    r = ProgressRenderer(out, tty=False)
    r.feed({"stream": "Loaded image: busybox:latest\n"})
    assert out.getvalue() == "Loaded image: busybox:latest\n"


def test_eta_format() -> None:
    assert format_eta(3.2) == "3s"
    assert format_eta(125) == "2m05s"
    assert format_eta(3700) == "1h01m"
