"""What pull and push need from the content store (cove.content.store.ContentStore)."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol


class BlobWriter(Protocol):
    @property
    def offset(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def commit(self) -> str: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    def exists(self, digest: str) -> bool: ...

    def read(self, digest: str) -> bytes: ...

    def open(self, digest: str) -> BinaryIO: ...

    def put(self, data: bytes, expected: str | None = None) -> str: ...

    def writer(
        self, ref: str, *, expected: str | None = None, size: int | None = None
    ) -> BlobWriter: ...


if TYPE_CHECKING:
    from cove.content.store import ContentStore

    def _conforms(store: ContentStore) -> BlobStore:
        return store
