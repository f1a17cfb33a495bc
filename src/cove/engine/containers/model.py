"""A container's record: what was asked (config), where it lives, and its state.

The record is what the daemon writes to disk before it acknowledges a change, so a
restarted daemon knows every container a client was told about. Field names follow
the Engine API's ContainerInspectResponse where the two meet.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

# The statuses of the Engine API's ContainerState.Status.
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
RESTARTING = "restarting"
REMOVING = "removing"
EXITED = "exited"
DEAD = "dead"

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_rfc3339() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + \
        f".{ns % 1_000_000_000:09d}Z"


@dataclass
class Health:
    status: str = "starting"  # starting | healthy | unhealthy
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class State:
    status: str = CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    oom_killed: bool = False
    # Beyond Docker: the stop signal was ignored and PID 1 had to be killed.
    stop_signal_ignored: bool = False
    # The monitor (conmon) that owns the container's stdio and exit status.
    monitor_pid: int = 0
    restart_count: int = 0
    # Set by stop/kill from the API: the restart policy must not bring it back.
    stopped_by_user: bool = False
    health: Health | None = None

    @property
    def running(self) -> bool:
        return self.status in (RUNNING, PAUSED, RESTARTING)


@dataclass
class Container:
    id: str
    name: str  # without the leading slash
    created: str
    image: str  # as the client named it
    image_id: str  # sha256:... of the image config
    config: dict[str, Any]  # the API's ContainerConfig, image defaults merged in
    host_config: dict[str, Any]
    networking_config: dict[str, Any] = field(default_factory=dict)
    runtime: str = "cove-runtime"
    platform: str = "linux"
    driver: str = "overlay"
    log_path: str = ""
    bundle: str = ""
    rootfs: str = ""
    state: State = field(default_factory=State)
    # The spec-derived facts the API shows but the daemon must not recompute later.
    path: str = ""
    args: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    hostname_path: str = ""
    hosts_path: str = ""
    resolv_conf_path: str = ""
    # NetworkSettings.Networks: the networks it joins, by name (EndpointSettings; the
    # address fields are filled while it runs).
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    # While it runs: its network namespace, each network's interface, address and
    # driver state, the published ports (see engine/networks/service.py).
    sandbox: dict[str, Any] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Container:
        data = dict(record)
        state = dict(data.pop("state", {}))
        health = state.pop("health", None)
        known_state = {k: v for k, v in state.items() if k in State.__dataclass_fields__}
        st = State(**known_state)
        if health is not None:
            st.health = Health(**health)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(state=st, **known)
