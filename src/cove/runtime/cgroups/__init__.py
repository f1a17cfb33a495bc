"""cgroups for ``cove-runtime``: one manager per container, over v1, hybrid or v2 hosts.

Public API::

    open_manager(cgroups_path, container_id, *, root="/sys/fs/cgroup") -> CgroupManager
    validate_resources(resources, field="linux.resources", *, root=...) -> None
    default_device_rules() -> list[dict]
    CgroupManager  (typing.Protocol, loaded lazily)

The layout is read once per :func:`open_manager` (one read of mountinfo); every
call of the CLI rebuilds the same manager from the same arguments, so nothing
needs to be stored besides the container's cgroupsPath. Modules that apply
resources, build device programs or validate load only when used.
"""

from __future__ import annotations

from cove.runtime.cgroups.detect import check_cgroups_path, detect, own_cgroups

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

    from cove.runtime.cgroups.manager import CgroupManager

__all__ = ["CgroupManager", "default_device_rules", "open_manager", "validate_resources"]


def open_manager(cgroups_path: str | None, container_id: str, *,
                 root: str = "/sys/fs/cgroup") -> CgroupManager:
    """The manager of a container's cgroup; creates nothing.

    ``cgroups_path`` (OCI ``linux.cgroupsPath``): absolute → below each
    hierarchy's mount point; relative → below the caller's own cgroup in each
    hierarchy (so every verb must run from the same cgroup); None or "" →
    ``/cove/<container_id>``.
    """
    path = check_cgroups_path(cgroups_path, container_id)
    layout = detect(root)
    own = None if path.startswith("/") else own_cgroups()
    if layout.mode == "v2":
        from cove.runtime.cgroups.detect import cgroup_dir
        from cove.runtime.cgroups.v2 import V2Manager

        assert layout.unified is not None
        return V2Manager(layout.unified.mountpoint, cgroup_dir(layout.unified, path, own))
    from cove.runtime.cgroups.v1 import V1Manager

    return V1Manager(layout, path, own)


def validate_resources(resources: Any, field: str = "linux.resources", *,
                       root: str = "/sys/fs/cgroup") -> None:
    """Check ``linux.resources`` before anything is created.

    :class:`InvalidArgument` names the bad field
    ("linux.resources.memory.limit: must be an integer"); :class:`Unsupported`
    names a value this host cannot honour (see :mod:`.validate` for the table).
    """
    if resources is None:
        return
    from cove.runtime.cgroups.validate import validate_resources as validate

    validate(resources, field, root=root)


def default_device_rules() -> list[dict[str, Any]]:
    """OCI's always-present devices as allow rules, for a core to append after a config's."""
    from cove.runtime.cgroups.devices import default_device_rules as rules

    return rules()


def __getattr__(name: str) -> object:
    if name == "CgroupManager":
        from cove.runtime.cgroups.manager import CgroupManager

        return CgroupManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
