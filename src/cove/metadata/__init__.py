"""The engine's metadata: image names -> digests, content/snapshot graph, leases, GC.

SQLite in WAL mode; see :mod:`cove.metadata.schema` for the tables.
"""

from cove.metadata.store import (
    Container,
    DatabaseLocked,
    Descriptor,
    GcPlan,
    Image,
    ImageFilters,
    MetadataStore,
)

__all__ = ["Container", "DatabaseLocked", "Descriptor", "GcPlan", "Image", "ImageFilters",
           "MetadataStore"]
