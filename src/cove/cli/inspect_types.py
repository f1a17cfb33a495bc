"""Go's view of an inspect document, for ``inspect --format``.

docker executes an inspect template on its typed structs, so a JSON null in a
slice field prints ``[]``, in a map field ``map[]``, a nil pointer ``<nil>``,
and a nested struct ``{v1 v2}`` in field order. The CLI only has the JSON;
this table of the Engine API's field kinds (ContainerInspect, ImageInspect)
restores those printings. Unknown fields keep the plain JSON behaviour.
"""

from __future__ import annotations

from cove.cli.gotemplate import NIL_MAP, NIL_SLICE, GoStruct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# field name -> kind, wherever it appears; (parent, field) wins over a bare name
SLICES = frozenset(
    "Entrypoint Cmd Env Binds Links OnBuild Shell CapAdd CapDrop Dns DnsOptions DnsSearch "
    "ExtraHosts GroupAdd SecurityOpt VolumesFrom Devices DeviceRequests DeviceCgroupRules "
    "Ulimits Mounts MaskedPaths ReadonlyPaths Args ExecIDs ConsoleSize BlkioWeightDevice "
    "BlkioDeviceReadBps BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps "
    "Aliases DNSNames RepoTags RepoDigests Layers Test SecondaryIPAddresses "
    "SecondaryIPv6Addresses".split())
MAPS = frozenset(
    "Volumes Labels ExposedPorts PortBindings Sysctls Tmpfs StorageOpt Ports Networks "
    "Annotations DriverOpts Options Data".split())
PARENT_MAPS = frozenset({("LogConfig", "Config"), ("GraphDriver", "Data")})
# pointers to structs: absent or null prints <nil>; by (parent, struct) -- the
# top-level Config, not LogConfig's
POINTERS = {("", "Config"): ("Healthcheck",), ("", "State"): ("Health",)}
# Fields a daemon may leave out where the API schema forbids null (Cove does): Go's
# struct has them anyway, as nil.
ABSENT_AS_NIL = {
    ("", "Config"): ("Cmd", "Entrypoint", "Volumes", "OnBuild", "Shell"),
    ("", "HostConfig"): (
        "Annotations", "Binds", "BlkioDeviceReadBps", "BlkioDeviceReadIOps",
        "BlkioDeviceWriteBps", "BlkioDeviceWriteIOps", "BlkioWeightDevice", "CapAdd",
        "CapDrop", "DeviceCgroupRules", "DeviceRequests", "ExtraHosts", "GroupAdd", "Links",
        "MaskedPaths", "Mounts", "ReadonlyPaths", "SecurityOpt", "StorageOpt", "Sysctls",
        "Tmpfs", "VolumesFrom"),
}
STRUCTS = {
    "RestartPolicy": ("Name", "MaximumRetryCount"),
    "LogConfig": ("Type", "Config"),
    "GraphDriver": ("Data", "Name"),
    "RootFS": ("Type", "Layers"),
    "Metadata": ("LastTagTime",),
    "State": ("Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
              "ExitCode", "Error", "StartedAt", "FinishedAt", "Health"),
    "Health": ("Status", "FailingStreak", "Log"),
}


def typed(value: Any, name: str = "", parent: str = "") -> Any:
    """``value`` (decoded JSON) with Go's nils and structs marked, recursively."""
    if value is None:
        if (parent, name) in PARENT_MAPS or (name in MAPS and name != "Config"):
            return NIL_MAP
        if name in SLICES:
            return NIL_SLICE
        return None
    if isinstance(value, list):
        return [typed(v, "", name) for v in value]
    if not isinstance(value, dict):
        return value
    fields = STRUCTS.get(name)
    out: dict[str, Any]
    if fields is not None and name not in MAPS:
        struct = GoStruct()
        struct.fields = fields
        out = struct
    else:
        out = {}
    # a map's keys are data (label names, ports): only a struct's fields are typed
    is_map = name in MAPS or (parent, name) in PARENT_MAPS
    for key, item in value.items():
        out[key] = typed(item, "" if is_map else key, name)
    for key in POINTERS.get((parent, name), ()):
        out.setdefault(key, None)
    for key in ABSENT_AS_NIL.get((parent, name), ()):
        if key not in out:
            out[key] = typed(None, key, name)
    return out
