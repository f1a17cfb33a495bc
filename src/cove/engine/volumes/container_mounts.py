"""A container's mounts at create: inspect's ``Mounts`` from its Binds, Mounts, Config.
Volumes (the image's VOLUME, ``-v /path``) and VolumesFrom, with the volumes they need
created (named ones on first use, anonymous ones with random names).

The whole request is validated before the first volume is made, and a plan that fails
half-way removes what it created, so a failed ``run`` leaves no orphaned volume.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cove.engine.ocispec.mounts import absolute_target, parse_bind, user_mounts
from cove.engine.ocispec.request import parse_create_request
from cove.engine.volumes.model import ANONYMOUS_LABEL, validate_name
from cove.engine.volumes.service import Hold, VolumeService
from cove.errors import InvalidArgument, NotFound, Unsupported

log = logging.getLogger("cove.engine.volumes.mounts")

# The Mounts of another container, for VolumesFrom.
OtherMounts = Callable[[str], Sequence[Mapping[str, Any]]]


@dataclass
class MountPlan:
    mounts: list[dict[str, Any]] = field(default_factory=list)  # inspect's Mounts
    created: list[str] = field(default_factory=list)  # volumes made for this container
    copy_up: list[tuple[str, str]] = field(default_factory=list)  # (volume, destination)


@dataclass
class _Wanted:
    destination: str
    name: str  # "" for a new anonymous volume
    read_only: bool
    mode: str
    nocopy: bool = False
    driver: str = ""
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def _point(kind: str, destination: str, source: str, *, rw: bool, mode: str = "",
           propagation: str = "", name: str = "") -> dict[str, Any]:
    point: dict[str, Any] = {"Type": kind}
    if kind == "volume":
        point["Name"] = name
    point.update({"Source": source, "Destination": destination})
    if kind == "volume":
        point["Driver"] = "local"
    point.update({"Mode": mode, "RW": rw, "Propagation": propagation})
    return point


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"invalid {where}: must be an object of strings")
    return {str(k): v for k, v in value.items()}


def _validate(config: Mapping[str, Any], host_config: Mapping[str, Any]) -> None:
    """Every mount rule of the spec builder (absolute targets, duplicates, tmpfs options),
    checked before anything exists; volumes resolve to a placeholder here."""
    request = parse_create_request(dict(config, HostConfig=dict(host_config)))
    user_mounts(request.host_config, volume_source=lambda _dest: "/")


def plan_mounts(volumes: VolumeService, hold: Hold, config: Mapping[str, Any],
                host_config: Mapping[str, Any], other_mounts: OtherMounts) -> MountPlan:
    """Create what the container needs and describe its mounts as inspect shows them.
    Every volume used is added to ``hold`` (the caller keeps it until its record is
    written). On failure, the volumes made here are removed again."""
    plan = MountPlan()
    if not (config.get("Volumes") or any(host_config.get(k) for k in (
            "Binds", "Mounts", "VolumesFrom"))):
        return plan  # nothing to mount: spare most creates the parse below
    _validate(config, host_config)
    try:
        _plan(volumes, hold, config, host_config, other_mounts, plan)
    except BaseException:
        hold.release()  # else the hold itself would keep them
        discard(volumes, plan.created)
        raise
    return plan


def discard(volumes: VolumeService, names: Sequence[str]) -> None:
    for name in names:
        with contextlib.suppress(Exception):
            volumes.remove(name, force=True)


def _plan(volumes: VolumeService, hold: Hold, config: Mapping[str, Any],
          host_config: Mapping[str, Any], other_mounts: OtherMounts,
          plan: MountPlan) -> None:
    wanted: list[_Wanted] = []
    taken: set[str] = set()
    binds: list[dict[str, Any]] = []
    for i, spec in enumerate(host_config.get("Binds") or []):
        where = f"HostConfig.Binds[{i}]"
        source, target, modes = parse_bind(spec, i, volume_source=lambda _d: "/")
        target = absolute_target(target, where, "bind")
        taken.add(target)
        read_only = "ro" in modes
        if source.startswith("/"):
            prop = next((m for m in modes if m not in ("ro", "rw", "z", "Z")), "")
            binds.append(_point("bind", target, posixpath.normpath(source), rw=not read_only,
                                mode=",".join(modes), propagation=prop or "rprivate"))
            continue
        validate_name(source)
        # Docker shows the mode as written ("nocopy" too), "z" when none was.
        wanted.append(_Wanted(target, source, read_only, ",".join(modes) or "z",
                              nocopy="nocopy" in modes))
    for i, raw in enumerate(host_config.get("Mounts") or []):
        where = f"HostConfig.Mounts[{i}]"
        kind = raw.get("Type") or ""
        target = absolute_target(str(raw.get("Target") or ""), where, kind)
        taken.add(target)
        read_only = bool(raw.get("ReadOnly"))
        if kind == "bind":
            prop = (raw.get("BindOptions") or {}).get("Propagation") or "rprivate"
            binds.append(_point("bind", target, posixpath.normpath(str(raw.get("Source"))),
                                rw=not read_only, propagation=prop))
        elif kind == "tmpfs":
            binds.append(_point("tmpfs", target, "", rw=not read_only))
        elif kind == "volume":
            options = raw.get("VolumeOptions") or {}
            if options.get("Subpath"):
                raise Unsupported(f"{where}: VolumeOptions.Subpath (volume-subpath) is not "
                                  "supported by Cove yet; mount the whole volume")
            driver = options.get("DriverConfig") or {}
            name = str(raw.get("Source") or "")
            if name:
                validate_name(name)
            wanted.append(_Wanted(
                target, name, read_only, "z", nocopy=bool(options.get("NoCopy")),
                driver=str(driver.get("Name") or ""),
                driver_opts=_strings(driver.get("Options"), f"{where}.VolumeOptions"),
                labels=_strings(options.get("Labels"), f"{where}.VolumeOptions.Labels")))
    for path in (config.get("Volumes") or {}):
        target = posixpath.normpath("/" + str(path).lstrip("/"))
        if target not in taken and target != "/":
            taken.add(target)
            wanted.append(_Wanted(target, "", False, ""))
    inherited: list[dict[str, Any]] = []
    for i, ref in enumerate(host_config.get("VolumesFrom") or []):
        other, _, mode = str(ref).partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid HostConfig.VolumesFrom[{i}]: invalid mode for "
                                  f"volumes-from: {mode}")
        try:
            others = other_mounts(other)
        except NotFound as e:
            # 400, not 404: the docker CLI takes a 404 on create for a missing image
            # and would try to pull it.
            raise InvalidArgument(str(e)) from None
        for m in others:
            if m.get("Type") not in ("volume", "bind") or m.get("Destination") in taken:
                continue
            point = dict(m)
            if mode:
                point["RW"] = mode == "rw"
                point["Mode"] = mode
            taken.add(str(point["Destination"]))
            if point["Type"] == "volume":
                hold.add(str(point["Name"]))
                volumes.get(str(point["Name"]))
            inherited.append(point)
    points = list(binds)
    for want in wanted:
        points.append(_volume_point(volumes, hold, want, plan))
    plan.mounts = points + inherited


def _volume_point(volumes: VolumeService, hold: Hold, want: _Wanted,
                  plan: MountPlan) -> dict[str, Any]:
    if want.name:
        hold.add(want.name)
        if not volumes.exists(want.name):
            volumes.create(want.name, want.driver or None, want.driver_opts, want.labels)
            plan.created.append(want.name)
            log.info("volume %s created for %s", want.name, want.destination)
        name = want.name
    else:
        labels = dict(want.labels)
        labels.setdefault(ANONYMOUS_LABEL, "")
        # Held before it exists, so no prune can take it before the record names it.
        name = secrets.token_hex(32)
        hold.add(name)
        volumes.create(name, want.driver or None, want.driver_opts, labels)
        plan.created.append(name)
    if not want.nocopy:
        plan.copy_up.append((name, want.destination))
    return _point("volume", want.destination, volumes.mountpoint(name), rw=not want.read_only,
                  mode=want.mode, name=name)
