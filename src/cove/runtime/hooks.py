"""OCI lifecycle hooks: run each with the container state on stdin, honouring its timeout."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from cove.errors import CoveError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

log = logging.getLogger(__name__)

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

    payload = json.dumps(state).encode()
    for i, hook in enumerate(hooks):
        path = hook["path"]
        args = hook.get("args") or [path]
        env = dict(e.split("=", 1) for e in hook.get("env") or [] if "=" in e)
        timeout = hook.get("timeout")
        try:
            res = subprocess.run(args, executable=path, input=payload, env=env,
                                 capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise HookError(f"{kind} hook #{i} ({path}) timed out after {timeout}s") from exc
        except OSError as exc:
            raise HookError(f"{kind} hook #{i} ({path}): {exc.strerror}") from exc
        if res.returncode != 0:
            detail = (res.stderr or res.stdout).decode(errors="replace").strip()
            raise HookError(f"{kind} hook #{i} ({path}) exited with status {res.returncode}"
                            + (f": {detail}" if detail else ""))


def run_hooks_best_effort(config: Mapping[str, Any], kind: str, state: Mapping[str, Any]) -> None:
    """poststart/poststop: a failure is logged and the operation goes on (the spec says so)."""
    try:
        run_hooks(config, kind, state)
    except HookError as exc:
        log.warning("%s", exc)
