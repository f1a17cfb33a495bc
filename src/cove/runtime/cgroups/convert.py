"""Pure conversions from OCI resource values to what the cgroup files take.

No I/O here, so every rule is unit-tested on its own.

"Unset" follows the runc convention the ecosystem's config generators rely on:
for the values below, ``None`` *and* ``0`` mean "leave the kernel default".
"""

from __future__ import annotations

import math

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

SHARES_MIN, SHARES_MAX = 2, 262144  # kernel MIN_SHARES / MAX_SHARES (1 << 18)
WEIGHT_MIN, WEIGHT_MAX = 1, 10000  # cgroup v2 cpu.weight and io.weight
BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX = 10, 1000  # v1 blkio.weight, v2 io.bfq.weight


def is_set(value: Any) -> bool:
    """True unless ``value`` is None or 0 (booleans are never 0 here)."""
    return value is not None and value is not False and value != 0


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] → cpu.weight [1, 10000], default 1024 → 100.

    The log-quadratic curve runc (opencontainers/cgroups ≥ 0.0.3) and crun
    adopted in 2025: weight = ⌈10^((L² + 125·L - 126) / 612)⌉ with
    L = log2(shares). It maps 2 → 1, 1024 → 100 and 262144 → 10000 exactly
    (the older linear formula sent the default 1024 to 39, starving containers
    next to unconfined processes). The exponent is written over one common
    denominator so that integer L gives an exact float and ``ceil`` does not
    round 100.00000000000001 up to 101.
    """
    shares = min(max(shares, SHARES_MIN), SHARES_MAX)
    lg = math.log2(shares)
    weight = math.ceil(10 ** ((lg * lg + 125 * lg - 126) / 612))
    return min(max(weight, WEIGHT_MIN), WEIGHT_MAX)


def blkio_weight_to_io_weight(weight: int) -> int:
    """v1 blkio.weight [10, 1000] → v2 io.weight [1, 10000], linearly (as runc and crun)."""
    span = BLKIO_WEIGHT_MAX - BLKIO_WEIGHT_MIN
    return 1 + (weight - BLKIO_WEIGHT_MIN) * (WEIGHT_MAX - 1) // span


def limit_v2(value: int) -> str:
    """A byte limit for memory.max/low: -1 means unlimited."""
    return "max" if value < 0 else str(value)


def swap_v2(limit: int | None, swap: int | None) -> str | None:
    """OCI ``memory.swap`` (memory+swap total, as v1 memsw) → v2 memory.swap.max (swap only).

    Returns None when nothing is to be written. ``swap`` -1 is unlimited; a
    positive total needs a positive limit (validation enforces it) and the
    difference is the swap allowance. With only ``limit: -1`` given, swap is
    made unlimited too, as v1 forces memsw ≥ limit.
    """
    if not is_set(swap):
        return "max" if limit == -1 else None
    assert swap is not None
    if swap < 0:
        return "max"
    if limit is None or limit <= 0:
        raise ValueError("memory.swap needs memory.limit: swap is the memory+swap total")
    if swap < limit:
        raise ValueError("memory.swap is below memory.limit; it is the memory+swap total")
    return str(swap - limit)


def cpu_max(quota: int | None, period: int | None) -> str | None:
    """OCI cpu quota/period (µs) → v2 cpu.max "$MAX $PERIOD"; None if neither is set.

    A quota of -1 (or unset, when only the period changes) is "max"; the period
    is left out when unset so the kernel keeps the current one.
    """
    if not is_set(quota) and not is_set(period):
        return None
    text = str(quota) if quota is not None and quota > 0 else "max"
    if is_set(period):
        text += f" {period}"
    return text


def pids_max(limit: int) -> str:
    """pids.limit ≤ 0 (-1, and 0 as runc) means no limit."""
    return "max" if limit <= 0 else str(limit)


def throttle_rate_v2(rate: int) -> str:
    """A v1 throttle rate of 0 removes the limit; v2 io.max spells that "max"."""
    return "max" if rate == 0 else str(rate)
