"""Snapshots: layer unpacking and the snapshotters (overlay, native) behind one protocol."""

from cove.snapshots.base import Info, Kind, Mount, Snapshotter, Usage, mounted
from cove.snapshots.changes import Change, ChangeKind
from cove.snapshots.detect import choose_snapshotter, overlay_works
from cove.snapshots.layers import LayerError, LayerStats, apply_layer
from cove.snapshots.native import NativeSnapshotter
from cove.snapshots.overlay import OverlaySnapshotter

__all__ = ["Change", "ChangeKind", "Info", "Kind", "LayerError", "LayerStats", "Mount",
           "NativeSnapshotter", "OverlaySnapshotter", "Snapshotter", "Usage", "apply_layer",
           "choose_snapshotter", "mounted", "overlay_works"]
