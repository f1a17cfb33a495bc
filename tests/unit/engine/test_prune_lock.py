"""PruneLock: creates share it, a prune excludes them, and a waiting prune goes first."""

from __future__ import annotations

import threading
import time

from cove.engine.prune_lock import PruneLock


def test_shared_holders_do_not_block_each_other() -> None:
    lock = PruneLock()
    with lock.shared(), lock.shared():
        pass


def test_exclusive_waits_for_shared_and_blocks_new_shared() -> None:
    lock = PruneLock()
    order: list[str] = []
    first = lock.shared()
    first.__enter__()

    def prune() -> None:
        with lock.exclusive():
            order.append("prune")

    def create() -> None:
        with lock.shared():
            order.append("create")

    p = threading.Thread(target=prune)
    p.start()
    time.sleep(0.05)
    c = threading.Thread(target=create)
    c.start()
    time.sleep(0.05)
    assert order == []  # the prune waits for the first create; the second waits for it
    first.__exit__(None, None, None)
    p.join(5)
    c.join(5)
    assert order == ["prune", "create"]
