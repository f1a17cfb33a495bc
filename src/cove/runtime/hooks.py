"""OCI lifecycle hooks: run each with the container state on stdin, honouring its timeout."""

from __future__ import annotations

from cove import fastjson
from cove.errors import CoveError
from cove.lazylog import get_logger

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

log = get_logger(__name__)

HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop")


class HookError(CoveError):
    """A hook failed, timed out or could not be started."""


def hooks_of(config: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    hooks = config.get("hooks") or {}
    return list(hooks.get(kind) or [])


def run_hooks(config: Mapping[str, Any], kind: str, state: Mapping[str, Any]) -> None:
    """Run every ``kind`` hook in order; the first failure raises :class:`HookError`."""
    hooks = hooks_of(config, kind)
    if not hooks:
        return
    import subprocess

    payload = fastjson.dumps(state, compact=False).encode()
    for i, hook in enumerate(hooks):
        path = hook["path"]
        args = hook.get("args") or [path]
        env = dict(e.split("=", 1) for e in hook.get("env") or [] if "=" in e)
        timeout = hook.get("timeout")
        try:
            # A session of its own, so that a timeout ends the hook's children too.
            proc = subprocess.Popen(args, executable=path, env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as exc:
            raise HookError(f"{kind} hook #{i} ({path}): {exc.strerror}") from exc
        try:
            out, err = proc.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            raise HookError(f"{kind} hook #{i} ({path}) timed out after {timeout}s") from exc
        res = subprocess.CompletedProcess(args, proc.returncode, out, err)
        if res.returncode != 0:
            detail = (res.stderr or res.stdout).decode(errors="replace").strip()
            raise HookError(f"{kind} hook #{i} ({path}) exited with status {res.returncode}"
                            + (f": {detail}" if detail else ""))


def _kill_group(proc: Any) -> None:
    import os
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def run_hooks_best_effort(config: Mapping[str, Any], kind: str, state: Mapping[str, Any]) -> None:
    """poststart/poststop: a failure is logged and the operation goes on (the spec says so)."""
    try:
        run_hooks(config, kind, state)
    except HookError as exc:
        log.warning("%s", exc)
