"""The explicit context every runtime verb takes: the state root and a logger."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cove.runtime.state import DEFAULT_ROOT, StateStore


@dataclass
class RuntimeContext:
    root: str = DEFAULT_ROOT
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("cove.runtime"))

    @property
    def store(self) -> StateStore:
        return StateStore(self.root)
