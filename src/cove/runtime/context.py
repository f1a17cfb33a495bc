"""The explicit context every runtime verb takes: the state root and a logger."""

from __future__ import annotations

from cove.lazylog import LazyLogger, get_logger
from cove.runtime.state import DEFAULT_ROOT, StateStore


class RuntimeContext:
    __slots__ = ("log", "root", "store")

    def __init__(self, root: str = DEFAULT_ROOT, log: LazyLogger | None = None) -> None:
        self.root = root
        self.log = log or get_logger("cove.runtime")
        self.store = StateStore(root)
