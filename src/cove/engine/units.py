"""Docker's size strings (go-units RAMInBytes): 512, 64k, 10m, 1.5g — binary multiples."""

from __future__ import annotations

import re

from cove.errors import InvalidArgument

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$", re.IGNORECASE)
_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value: str) -> int:
    m = _SIZE.match(value.strip())
    if m is None:
        raise InvalidArgument(f"invalid size: {value!r}")
    return int(float(m.group(1)) * _MULT[m.group(2).lower()])
