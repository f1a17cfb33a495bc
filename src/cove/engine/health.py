"""Health checks: Config.Healthcheck probed by exec, results in the container's state.

One monitor thread per running container that has a check. It sleeps one interval
(StartInterval while the container is still starting within its StartPeriod), runs
the probe inside the container with its timeout, and records the result as Docker
does: exit 0 is healthy and resets the failing streak; anything else (a timeout is
-1) adds to the streak, which makes the container unhealthy once it reaches Retries —
except that failures inside the start period do not count. The last five results are
kept; a change of status is an event ``health_status: healthy|unhealthy``.

State is saved with the container record, so ``inspect`` after a daemon restart shows
the last known health; monitors are started again for containers found running.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cove.engine.containers import model

if TYPE_CHECKING:
    from cove.engine.containers.model import Container
    from cove.engine.containers.service import ContainerService
    from cove.engine.events import EventLog
    from cove.engine.exec_sessions import ExecManager

log = logging.getLogger("cove.engine.health")

# Docker's defaults (seconds) and limits.
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_PERIOD = 0.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT_BYTES = 4096


@dataclass(frozen=True)
class HealthConfig:
    argv: list[str]
    interval: float
    timeout: float
    start_period: float
    start_interval: float
    retries: int


def _seconds(value: Any, default: float) -> float:
    """A Healthcheck duration (nanoseconds; 0 or missing means the default)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return max(float(value) / 1e9, 0.001)


def parse_healthcheck(config: dict[str, Any] | None) -> HealthConfig | None:
    """None when the container has no check (absent, empty, ["NONE"], or unusable)."""
    if not isinstance(config, dict):
        return None
    test = config.get("Test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test or not all(isinstance(t, str) for t in test):
        return None
    kind, rest = test[0], test[1:]
    if kind == "CMD" and rest:
        argv = list(rest)
    elif kind == "CMD-SHELL" and rest:
        argv = ["/bin/sh", "-c", " ".join(rest)]
    else:
        return None
    retries = config.get("Retries")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries <= 0:
        retries = DEFAULT_RETRIES
    return HealthConfig(
        argv=argv, interval=_seconds(config.get("Interval"), DEFAULT_INTERVAL),
        timeout=_seconds(config.get("Timeout"), DEFAULT_TIMEOUT),
        start_period=_seconds(config.get("StartPeriod"), DEFAULT_START_PERIOD),
        start_interval=_seconds(config.get("StartInterval"), DEFAULT_START_INTERVAL),
        retries=retries)


def _duration_text(seconds: float) -> str:
    """Go's time.Duration formatting for the timeout message ("30s", "500ms", "1m30s")."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, secs = divmod(seconds, 60)
    text = f"{secs:g}s"
    return f"{int(minutes)}m{text}" if minutes else text


class _Run:
    """The monitor of one run of one container."""

    def __init__(self, started_at: str) -> None:
        self.started_at = started_at
        self.stop = threading.Event()


class HealthMonitor:
    """A ContainerListener: starts and stops the probe loop of each container run."""

    def __init__(self, containers: ContainerService, execs: ExecManager,
                 events: EventLog) -> None:
        self.containers = containers
        self.execs = execs
        self.events = events
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}

    def resume(self) -> None:
        """After a daemon restart: monitors for the containers recorded as running (a
        run that turns out dead stops at its first probe)."""
        for c in self.containers.store.all():
            if c.state.status in (model.RUNNING, model.PAUSED):
                self.container_started(c)

    # -- ContainerListener -----------------------------------------------------------------

    def container_started(self, c: Container) -> None:
        cfg = parse_healthcheck(c.config.get("Healthcheck"))
        self._stop(c.id)
        if cfg is None:
            return
        run = _Run(c.state.started_at)
        with self._lock:
            self._runs[c.id] = run
        threading.Thread(target=self._loop, args=(c, cfg, run), name=f"health-{c.id[:12]}",
                         daemon=True).start()

    def container_exited(self, c: Container) -> None:
        self._stop(c.id)

    def container_removed(self, c: Container) -> None:
        self._stop(c.id)

    def _stop(self, cid: str) -> None:
        with self._lock:
            run = self._runs.pop(cid, None)
        if run is not None:
            run.stop.set()

    # -- the loop --------------------------------------------------------------------------

    def _current(self, c: Container, run: _Run) -> bool:
        return not run.stop.is_set() and c.state.running and \
            c.state.started_at == run.started_at

    def _loop(self, c: Container, cfg: HealthConfig, run: _Run) -> None:
        started = time.monotonic() - max(0.0, time.time() - _epoch(c.state.started_at))
        try:
            while True:
                in_start_period = time.monotonic() - started < cfg.start_period
                starting = c.state.health is None or c.state.health.status == "starting"
                wait = cfg.start_interval if (in_start_period and starting) else cfg.interval
                if run.stop.wait(wait) or not self._current(c, run):
                    return
                if c.state.status == model.PAUSED:
                    continue  # a frozen container cannot answer; not a failure
                result = self._probe(c, cfg, run)
                if result is None or not self._current(c, run):
                    return
                in_start_period = time.monotonic() - started < cfg.start_period
                self._record(c, cfg, result, in_start_period, run.started_at)
        except Exception:
            log.exception("health monitor of %s failed", c.id[:12])

    def _probe(self, c: Container, cfg: HealthConfig, run: _Run) -> dict[str, Any] | None:
        start = model.now_rfc3339()
        outcome = self.execs.run_captured(c, cfg.argv, cfg.timeout, MAX_OUTPUT_BYTES,
                                          cancelled=run.stop.is_set)
        if run.stop.is_set():
            return None
        output = outcome.output
        code = outcome.exit_code
        if outcome.timed_out:
            code = -1
            output = f"Health check exceeded timeout ({_duration_text(cfg.timeout)})"
        return {"Start": start, "End": model.now_rfc3339(), "ExitCode": code, "Output": output}

    def _record(self, c: Container, cfg: HealthConfig, result: dict[str, Any],
                in_start_period: bool, started_at: str) -> None:
        with self.containers.store.lock(c.id):
            if not c.state.running or c.state.started_at != started_at:
                return  # the run ended while the probe ran: its result is moot
            health = c.state.health
            if health is None:
                health = c.state.health = model.Health()
            before = health.status
            if result["ExitCode"] == 0:
                health.failing_streak = 0
                health.status = "healthy"
            elif not (in_start_period and health.status == "starting"):
                health.failing_streak += 1
                if health.failing_streak >= cfg.retries:
                    health.status = "unhealthy"
            health.log = [*health.log, result][-MAX_LOG_ENTRIES:]
            after = health.status
            with contextlib.suppress(OSError):
                self.containers.store.save(c)
        if after != before:
            self.events.emit("container", f"health_status: {after}", c.id,
                             {"image": c.image, "name": c.name})


def _epoch(rfc3339: str) -> float:
    from cove.engine.timeutil import parse_rfc3339
    from cove.errors import InvalidArgument
    try:
        return parse_rfc3339(rfc3339)
    except InvalidArgument:
        return time.time()
