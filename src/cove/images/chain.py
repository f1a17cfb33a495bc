"""OCI chain IDs: the name of a layer stack, from its diff_ids.

``chainID(0) = diffID(0)``; ``chainID(n) = sha256(chainID(n-1) + " " + diffID(n))``
(image-spec config.md, "Layer ChainID").  Committed snapshots are keyed by them,
so images sharing a lower stack share its snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence

from cove.oci.digest import digest_bytes


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain ID of every prefix of ``diff_ids`` (same length, same order)."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else digest_bytes(f"{out[-1]} {diff_id}".encode()))
    return out


__all__ = ["chain_ids"]
