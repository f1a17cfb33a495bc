"""After seal_imports only already-loaded, built-in and frozen modules can be imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-I", "-S", "-c",
                          f"import sys; sys.path.insert(0, {SRC!r})\n" + code],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_sealed_process_cannot_load_files() -> None:
    out = run("from cove.runtime.preload import seal_imports\n"
              "import json\n"
              "seal_imports()\n"
              "import json, posix\n"  # loaded and built-in: fine
              "try:\n    import csv\nexcept ImportError:\n    print('refused')\n"
              "try:\n    from cove.linux import seccomp\n"
              "except ImportError:\n    print('refused')\n")
    assert out.split() == ["refused", "refused"]


def test_preload_covers_what_the_child_imports() -> None:
    out = run("from cove.runtime.preload import preload_for, seal_imports\n"
              "cfg = {'hooks': {'startContainer': [{'path': '/bin/true'}]}}\n"
              "preload_for(cfg, terminal=True, seccomp=True)\n"
              "seal_imports()\n"
              "from cove.linux import capabilities, seccomp\n"
              "from cove.runtime import terminal, hooks, seccomp_notify\n"
              "import socket, subprocess, termios, fcntl\n"
              "print('ok')\n")
    assert out == "ok"
