"""Import everything a container's set-up process needs *before* it forks, then seal.

The set-up processes run the runtime's Python inside the container's mount
namespace and, after pivot_root, inside its root filesystem. An import there
would read Python files from the container's image: a crafted image could
place ``/work/.../cove/linux/capabilities.py`` and run code as the runtime,
with all its privileges. So the parent imports every module the child may
use, and the child removes the path-based importer first thing: a forgotten
import then fails loudly instead of loading a file the container controls.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def preload_for(config: Mapping[str, Any], *, terminal: bool, seccomp: bool,
                exec_only: bool = False) -> None:
    modules = ["cove.linux.capabilities", "cove.runtime.process", "fcntl"]
    hooks = config.get("hooks") or {}
    if not exec_only and (hooks.get("createContainer") or hooks.get("startContainer")):
        modules += ["cove.runtime.hooks", "subprocess"]
    if seccomp:
        modules += ["cove.linux.seccomp", "cove.linux.syscall_table", "struct", "errno",
                    "cove.runtime.seccomp_notify", "cove.runtime.terminal", "socket"]
    if terminal:
        modules += ["cove.runtime.terminal", "socket", "termios", "fcntl", "struct"]
    for name in modules:
        __import__(name)


def seal_imports() -> None:
    """From here on only already-imported, built-in and frozen modules can be imported."""
    # The path finder is recognised by name: importing importlib.machinery to get
    # the class itself would cost a file import here, on the create path.
    sys.meta_path[:] = [f for f in sys.meta_path
                        if getattr(f, "__name__", type(f).__name__) != "PathFinder"]
    sys.path[:] = []
    sys.path_importer_cache.clear()
