"""The record's HostConfig with its volumes as host directories, for the spec builder.

Named volumes in Binds and Mounts become binds of the directories the create resolved
(kept in the record's Mounts); anonymous and VolumesFrom mounts, which the request
does not name, are appended as binds. ``nocopy`` and ``z`` mean nothing past create.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any


def _target(text: str) -> str:
    return posixpath.normpath("/" + text.lstrip("/"))


def _bind(point: Mapping[str, Any], destination: str) -> str:
    return f"{point['Source']}:{destination}" + ("" if point.get("RW", True) else ":ro")


def resolved_host_config(host_config: Mapping[str, Any],
                         mounts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    points = {str(m.get("Destination")): m for m in mounts}
    binds: list[str] = []
    for spec in host_config.get("Binds") or []:
        parts = str(spec).split(":")
        if len(parts) >= 2 and not parts[0].startswith("/"):
            point = points.get(_target(parts[1]))
            if point is not None and point.get("Type") == "volume":
                binds.append(_bind(point, parts[1]))
                continue
        binds.append(str(spec))
    api_mounts: list[Any] = []
    for raw in host_config.get("Mounts") or []:
        if isinstance(raw, dict) and raw.get("Type") == "volume":
            point = points.get(_target(str(raw.get("Target") or "")))
            if point is not None:
                api_mounts.append({"Type": "bind", "Source": point["Source"],
                                   "Target": raw.get("Target"),
                                   "ReadOnly": bool(raw.get("ReadOnly"))})
                continue
        api_mounts.append(raw)
    requested = {_target(str(b).split(":")[1]) for b in host_config.get("Binds") or []
                 if len(str(b).split(":")) >= 2}
    requested |= {_target(str(m.get("Target") or "")) for m in api_mounts
                  if isinstance(m, dict)}
    requested |= {_target(p) for p in (host_config.get("Tmpfs") or {})}
    for destination, point in points.items():
        if destination not in requested and point.get("Type") in ("volume", "bind"):
            binds.append(_bind(point, destination))
    out = dict(host_config)
    if binds:
        out["Binds"] = binds
    if api_mounts:
        out["Mounts"] = api_mounts
    return out
