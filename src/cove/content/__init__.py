"""The content-addressed blob store: blobs/<alg>/<hex>, written through a verified ingest."""

from __future__ import annotations

from cove.content.errors import BlobNotFound, DigestMismatch, IngestLocked, SizeMismatch
from cove.content.store import BlobWriter, ContentStore

__all__ = [
    "BlobNotFound",
    "BlobWriter",
    "ContentStore",
    "DigestMismatch",
    "IngestLocked",
    "SizeMismatch",
]
