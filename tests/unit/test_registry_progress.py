"""Docker's JSON progress messages: sizes, bars, throttling, one sink call at a time."""

from __future__ import annotations

import itertools
import threading
import time

from cove.registry.progress import (
    THROTTLE_BYTES,
    Message,
    Reporter,
    human_size,
    progress_text,
    reporter,
    retry_text,
    short_id,
)


def test_sizes_and_bars_read_like_docker() -> None:
    assert human_size(0) == "0B"
    assert human_size(532) == "532B"
    assert human_size(1234) == "1.234kB"
    assert human_size(2_221_000) == "2.221MB"
    assert human_size(3_400_000_000) == "3.4GB"
    assert progress_text(0, 0) == ""
    half = progress_text(1_200_000, 2_400_000)
    assert half == "[" + "=" * 25 + ">" + " " * 25 + "]    1.2MB/2.4MB"
    assert progress_text(10, 10) == "[" + "=" * 50 + ">]      10B/10B"
    assert progress_text(5_000, 0) == "     5kB"
    assert short_id("sha256:" + "ab" * 32) == "ab" * 6
    assert retry_text(1) == "Retrying in 1 second" and retry_text(4.6) == "Retrying in 5 seconds"


def test_downloading_events_are_throttled_but_the_last_always_comes() -> None:
    now = [0.0]
    got: list[Message] = []
    out = Reporter(got.append, clock=lambda: now[0])
    total = 10 * THROTTLE_BYTES
    for done in range(0, total + 1, 4096):  # many small reads, no time passing
        out.bytes("Downloading", "abc", done, total)
    currents = [m["progressDetail"]["current"] for m in got]
    assert currents[-1] == total
    assert len(got) <= 12
    assert all(b - a >= THROTTLE_BYTES for a, b in itertools.pairwise(currents[:-1]))
    got.clear()
    out.bytes("Downloading", "abc", 1, total)
    now[0] += 0.2  # 100 ms passed: a small step shows
    out.bytes("Downloading", "abc", 2, total)
    assert [m["progressDetail"]["current"] for m in got] == [1, 2]
    assert got[0] == {"status": "Downloading", "progressDetail": {"current": 1, "total": total},
                      "progress": progress_text(1, total), "id": "abc"}


def test_status_shapes_and_disabled_reporter() -> None:
    got: list[Message] = []
    out = reporter(got.append)
    assert reporter(out) is out
    out.status("Pulling fs layer", "0123456789ab")
    out.status("Digest: sha256:00")
    assert got == [{"status": "Pulling fs layer", "progressDetail": {}, "id": "0123456789ab"},
                   {"status": "Digest: sha256:00"}]
    silent = reporter(None)
    assert not silent.enabled
    silent.status("x")
    silent.bytes("Downloading", "a", 1, 2)


def test_the_sink_is_never_called_concurrently() -> None:
    inside = 0
    overlaps = 0
    count = 0

    def sink(msg: Message) -> None:
        nonlocal inside, overlaps, count
        inside += 1
        if inside > 1:
            overlaps += 1
        time.sleep(0.0001)
        count += 1
        inside -= 1

    out = Reporter(sink)

    def work(n: int) -> None:
        for i in range(50):
            out.status("Downloading", f"layer{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count == 150 and overlaps == 0
