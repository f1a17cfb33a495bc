"""Errors of the content store, each a kind from :mod:`cove.errors` with its context."""

from __future__ import annotations

from cove.errors import FailedPrecondition, InvalidArgument, NotFound


class DigestMismatch(InvalidArgument):
    """The written content does not hash to the expected digest."""

    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        super().__init__(f"digest mismatch for {what}: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class SizeMismatch(InvalidArgument):
    """The written content is longer or shorter than the announced size."""

    def __init__(self, expected: int, actual: int, what: str = "content") -> None:
        relation = "exceeds" if actual > expected else "is short of"
        super().__init__(
            f"size mismatch for {what}: {actual} bytes {relation} the expected {expected}"
        )
        self.expected = expected
        self.actual = actual


class BlobNotFound(NotFound):
    """No blob with that digest is in the store."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"blob {digest} not found")
        self.digest = digest


class IngestLocked(FailedPrecondition):
    """Another writer holds the ingest of that ref."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"ingest {ref!r} is locked: another writer is writing it")
        self.ref = ref
