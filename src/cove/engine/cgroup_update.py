"""``update``: new resource limits for a container, checked with Docker's rules.

The OCI runtime has no ``update`` verb here, so a running container's cgroup files are
written directly; the new values are merged into ``HostConfig`` and saved with the
record, so the next start's spec carries them. Zero (or absent) means "unchanged",
as in Docker's update. When a write fails, the values written before it are put back
and nothing is saved: a refused update changes nothing.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass, field
from typing import Any

from cove.engine.container_cgroup import CgroupHost, ContainerCgroup
from cove.errors import Conflict, InvalidArgument

log = logging.getLogger("cove.engine.update")

MIN_MEMORY = 6 * 1024 * 1024  # Docker's smallest memory limit
CPU_PERIOD = 100_000  # µs: NanoCpus become a quota over this period, as Docker's
_NANO = 1_000_000_000

_INT_FIELDS = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares",
               "CpuQuota", "CpuPeriod", "PidsLimit", "BlkioWeight")
_STR_FIELDS = ("CpusetCpus", "CpusetMems")
_BFQ_FALLBACK = {"blkio.weight": "blkio.bfq.weight", "io.weight": "io.bfq.weight"}
_RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")


class UpdateRefused(Conflict):
    """The kernel refused a new limit (e.g. memory below the current usage)."""


@dataclass
class UpdatePlan:
    """The merged HostConfig fields to save, and the warnings for the client."""

    changes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _get_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"invalid {key}: {value!r} is not an integer")
    return int(value)


def _cpus_available() -> int:
    from cove.engine.stats import online_cpus
    return online_cpus()


def _parse_cpuset(text: str, what: str) -> set[int]:
    out: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                out.update(range(lo, hi + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise InvalidArgument(f"Invalid value {text} for {what}") from None
    return out


def plan_update(body: dict[str, Any], host_config: dict[str, Any],
                host_cpusets: tuple[str, str] | None = None) -> UpdatePlan:
    """Validate an update body against the container's HostConfig (Docker's messages)."""
    if not isinstance(body, dict):
        raise InvalidArgument("update body must be a JSON object")
    values = {k: _get_int(body, k) for k in _INT_FIELDS}
    for key in _STR_FIELDS:
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidArgument(f"invalid {key}: must be a string")
    plan = UpdatePlan()
    cur = {k: host_config.get(k) or 0 for k in _INT_FIELDS}
    memory, swap = values["Memory"] or 0, values["MemorySwap"] or 0
    reservation = values["MemoryReservation"] or 0
    if memory:
        if 0 < memory < MIN_MEMORY:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        if memory < 0:
            raise InvalidArgument(f"invalid Memory: {memory} (must be >= 0)")
        # Docker's rule: a new memory limit above the swap limit already set needs a new
        # swap limit too (an unlimited swap, -1, is never below; an unset one, 0, is, as in
        # moby: `docker update -m` alone is refused for a container made without -m).
        if swap == 0 and cur["MemorySwap"] != -1 and memory > cur["MemorySwap"]:
            raise Conflict("Memory limit should be smaller than already set memoryswap "
                           "limit, update the memoryswap at the same time")
        plan.changes["Memory"] = memory
    if swap:
        if swap < -1:
            raise InvalidArgument(f"invalid MemorySwap: {swap} (must be -1 (unlimited) or "
                                  "a size)")
        limit = memory or cur["Memory"]
        if swap > 0 and limit == 0:
            raise InvalidArgument("You should always set the Memory limit when using "
                                  "Memoryswap limit, see usage")
        if swap > 0 and swap < limit:
            raise InvalidArgument("Minimum memoryswap limit should be larger than memory "
                                  "limit, see usage")
        plan.changes["MemorySwap"] = swap
    if reservation:
        if 0 < reservation < MIN_MEMORY:
            raise InvalidArgument("Minimum memory reservation allowed is 6MB")
        limit = memory or cur["Memory"]
        if limit > 0 and reservation > limit:
            raise InvalidArgument("Minimum memory limit can not be less than memory "
                                  "reservation limit, see usage")
        plan.changes["MemoryReservation"] = reservation
    _plan_cpu(values, cur, plan)
    for key, what in (("CpusetCpus", "cpuset.cpus"), ("CpusetMems", "cpuset.mems")):
        text = body.get(key)
        if text:
            wanted = _parse_cpuset(text, what)
            available_text = host_cpusets[0 if key == "CpusetCpus" else 1] \
                if host_cpusets else ""
            if available_text:
                available = _parse_cpuset(available_text, what)
                if not wanted <= available:
                    noun = "CPUs" if key == "CpusetCpus" else "memory nodes"
                    raise InvalidArgument(f"Requested {noun} are not available - requested "
                                          f"{text}, available: {available_text}")
            plan.changes[key] = text
    pids = values["PidsLimit"]
    if pids is not None:
        # Docker: 0 and -1 both mean unlimited; it stores unlimited as 0.
        plan.changes["PidsLimit"] = pids if pids > 0 else 0
    weight = values["BlkioWeight"]
    if weight:
        if not 10 <= weight <= 1000:
            raise InvalidArgument("Range of blkio weight is from 10 to 1000")
        plan.changes["BlkioWeight"] = weight
    if body.get("RestartPolicy") is not None:
        plan.changes["RestartPolicy"] = _plan_restart(body["RestartPolicy"], host_config)
    return plan


def _plan_cpu(values: dict[str, int | None], cur: dict[str, Any], plan: UpdatePlan) -> None:
    nano, quota, period = values["NanoCpus"] or 0, values["CpuQuota"] or 0, \
        values["CpuPeriod"] or 0
    if nano and (quota or period):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be "
                              "set" if period else "Conflicting options: Nano CPUs and CPU "
                              "Quota cannot both be set")
    if quota and cur["NanoCpus"] > 0:
        raise Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                       "already been set")
    if period and cur["NanoCpus"] > 0:
        raise Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has "
                       "already been set")
    if nano and cur["CpuQuota"] > 0:
        raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has "
                       "already been set")
    if nano and cur["CpuPeriod"] > 0:
        raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has "
                       "already been set")
    if nano:
        cpus = _cpus_available()
        if nano < 0 or nano < _NANO // 100 or nano > cpus * _NANO:
            raise InvalidArgument(f"Range of CPUs is from 0.01 to {cpus}.00, as there are "
                                  f"only {cpus} CPUs available")
        plan.changes["NanoCpus"] = nano
    if period:
        if period != -1 and not 1000 <= period <= 1_000_000:
            raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or "
                                  "larger than 1s (i.e. 1000000)")
        plan.changes["CpuPeriod"] = period
    if quota:
        if 0 < quota < 1000:
            raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
        plan.changes["CpuQuota"] = quota
    shares = values["CpuShares"]
    if shares:
        if shares < 0:
            raise InvalidArgument(f"invalid CpuShares: {shares} (must be >= 0)")
        plan.changes["CpuShares"] = shares


def _plan_restart(policy: Any, host_config: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(policy, dict):
        raise InvalidArgument("invalid RestartPolicy: must be a JSON object")
    name = policy.get("Name") or ""
    if not isinstance(name, str) or name not in _RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of "
                              "'no', 'always', 'on-failure', or 'unless-stopped'")
    retries = policy.get("MaximumRetryCount") or 0
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise InvalidArgument("invalid RestartPolicy.MaximumRetryCount: must be an integer")
    if retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be "
                              "negative")
    if retries and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be "
                              "used with 'on-failure'")
    if host_config.get("AutoRemove") and name not in ("", "no"):
        raise Conflict("Restart policy cannot be updated because AutoRemove is enabled for "
                       "the container")
    return {"Name": name or "no", "MaximumRetryCount": retries}


class CgroupWriter:
    """Writes a merged HostConfig's limits into a running container's cgroup files."""

    def __init__(self, host: CgroupHost) -> None:
        self.host = host

    def host_cpusets(self, cg: ContainerCgroup) -> tuple[str, str] | None:
        """What the container's parent cgroup offers (cpus, mems)."""
        import os
        try:
            directory = os.path.dirname(cg.path("cpuset", "x"))
            parent = os.path.dirname(directory)
            names = ("cpuset.cpus.effective", "cpuset.mems.effective") if self.host.v2 \
                else ("cpuset.cpus", "cpuset.mems")
            out = []
            for name in names:
                with open(os.path.join(parent, name)) as f:
                    out.append(f.read().strip())
            return out[0], out[1]
        except Exception:
            return None

    def files(self, merged: dict[str, Any], changed: set[str]) -> list[tuple[str, str, str]]:
        """(controller, file, value) to write for the changed fields, in a safe order."""
        out: list[tuple[str, str, str]] = []
        memory = int(merged.get("Memory") or 0)
        swap = int(merged.get("MemorySwap") or 0)
        v2 = self.host.v2
        if changed & {"Memory", "MemorySwap"}:
            if v2:
                out.append(("memory", "memory.max", str(memory) if memory > 0 else "max"))
                if swap == -1 or memory <= 0:
                    out.append(("memory", "memory.swap.max", "max"))
                elif swap > 0:
                    out.append(("memory", "memory.swap.max", str(swap - memory)))
            else:
                out.append(("memory", "memory.limit_in_bytes",
                            str(memory) if memory > 0 else "-1"))
                if swap:
                    out.append(("memory", "memory.memsw.limit_in_bytes",
                                str(swap) if swap > 0 else "-1"))
        if "MemoryReservation" in changed:
            value = int(merged["MemoryReservation"])
            out.append(("memory", "memory.low" if v2 else "memory.soft_limit_in_bytes",
                        str(value)))
        if "CpuShares" in changed:
            shares = int(merged["CpuShares"])
            if v2:
                from cove.runtime.cgroups.convert import shares_to_weight
                out.append(("cpu", "cpu.weight", str(shares_to_weight(shares))))
            else:
                out.append(("cpu", "cpu.shares", str(max(shares, 2))))
        if changed & {"NanoCpus", "CpuQuota", "CpuPeriod"}:
            nano = int(merged.get("NanoCpus") or 0)
            if nano:
                period, quota = CPU_PERIOD, nano * CPU_PERIOD // _NANO
            else:
                period = int(merged.get("CpuPeriod") or 0) or CPU_PERIOD
                quota = int(merged.get("CpuQuota") or 0) or -1
            if v2:
                out.append(("cpu", "cpu.max", f"{quota if quota > 0 else 'max'} {period}"))
            else:
                out.append(("cpu", "cpu.cfs_period_us", str(period)))
                out.append(("cpu", "cpu.cfs_quota_us", str(quota)))
        for key, name in (("CpusetCpus", "cpuset.cpus"), ("CpusetMems", "cpuset.mems")):
            if key in changed:
                out.append(("cpuset", name, str(merged[key])))
        if "PidsLimit" in changed:
            limit = int(merged.get("PidsLimit") or 0)
            out.append(("pids", "pids.max", str(limit) if limit > 0 else "max"))
        if "BlkioWeight" in changed:
            weight = int(merged["BlkioWeight"])
            if v2:
                from cove.runtime.cgroups.convert import blkio_weight_to_io_weight
                out.append(("io", "io.weight", f"default {blkio_weight_to_io_weight(weight)}"))
            else:
                out.append(("blkio", "blkio.weight", str(weight)))
        return out

    def apply(self, cg: ContainerCgroup, merged: dict[str, Any], before: dict[str, Any],
              changed: set[str], container_id: str) -> list[str]:
        """Write the files; on a refusal put back what was written, then raise.
        Returns warnings for limits this host cannot set (Docker warns and goes on)."""
        warnings: list[str] = []
        writes = self.files(merged, changed)
        done: list[tuple[str, str, str]] = []
        try:
            self._write_all(cg, writes, done, warnings)
        except OSError as e:
            log.warning("update of %s refused: %s; restoring the previous limits",
                        container_id[:12], e)
            self._restore(cg, done)
            raise self._refusal(cg, e, merged, container_id) from None
        return warnings

    def _write_all(self, cg: ContainerCgroup, writes: list[tuple[str, str, str]],
                   done: list[tuple[str, str, str]], warnings: list[str]) -> None:
        import os
        pending = list(writes)
        while pending:
            controller, name, value = pending.pop(0)
            path = cg.path(controller, name)
            if not os.path.exists(path) and name in _BFQ_FALLBACK:
                # Without CFQ the weight is the BFQ scheduler's file (as runc does).
                name = _BFQ_FALLBACK[name]
                path = cg.path(controller, name)
            if not os.path.exists(path):
                warnings.append(_unsupported_warning(name))
                continue
            old = (cg.read(controller, name) or "").strip()
            try:
                cg.write(controller, name, value)
            except OSError as e:
                # v1: a memory limit above the current memsw limit must wait for memsw
                # to be raised first (and memsw cannot drop below memory).
                swap_next = pending and pending[0][1] == "memory.memsw.limit_in_bytes"
                if e.errno == errno.EINVAL and name == "memory.limit_in_bytes" and swap_next:
                    pending.insert(1, (controller, name, value))
                    continue
                raise
            done.append((controller, name, old))

    @staticmethod
    def _restore(cg: ContainerCgroup, done: list[tuple[str, str, str]]) -> None:
        for controller, name, old in reversed(done):
            if old:
                try:
                    cg.write(controller, name, old.split("\n")[0])
                except OSError as e:
                    log.error("could not restore %s: %s", name, e)

    @staticmethod
    def _refusal(cg: ContainerCgroup, error: OSError, merged: dict[str, Any],
                 container_id: str) -> Exception:
        if error.errno == errno.EBUSY:
            from cove.engine.stats import _int
            usage = _int(cg.read("memory", "memory.usage_in_bytes")
                         or cg.read("memory", "memory.current"))
            peak = _int(cg.read("memory", "memory.max_usage_in_bytes")
                        or cg.read("memory", "memory.peak"))
            return UpdateRefused(
                f"Cannot update container {container_id}: unable to set memory limit to "
                f"{merged.get('Memory')} (current usage: {usage}, peak usage: {peak})")
        return UpdateRefused(f"Cannot update container {container_id}: {error.strerror}")


def _unsupported_warning(name: str) -> str:
    if "memsw" in name or "swap" in name:
        return ("Your kernel does not support swap limit capabilities or the cgroup is not "
                "mounted. Memory limited without swap.")
    if "blkio" in name or name.startswith("io."):
        return ("Your kernel does not support Block I/O weight or the cgroup is not "
                "mounted. Weight discarded.")
    return f"Your kernel does not support {name} or the cgroup is not mounted; discarded."
