"""Write fast launchers for Cove's console scripts into the venv's bin directory.

pip's generated scripts start the interpreter with ``site``, which costs a few
milliseconds per call for .pth processing that the runtime does not need: it
uses the standard library only. The launchers written here start the venv's
own interpreter (never a shim) with ``-I -S`` (isolated, no site), put the
package's directory on ``sys.path`` themselves, and skip finalization at exit.
``cove-runtime`` is started for every container operation, so this is paid
back at every call.
"""

from __future__ import annotations

import os
import sys

SCRIPTS = {
    "cove-runtime": "cove.runtime_cli.main",
    "cove": "cove.cli.main",
    "coved": "cove.daemon.main",
}


def launcher_text(python: str, package_parent: str, module: str) -> str:
    # os._exit after flushing: interpreter finalization (module teardown, gc) costs
    # about a millisecond and there is nothing left for it to do.
    return (f"#!{python} -IS\n"
            "import os, sys\n"
            f"sys.path.insert(0, {package_parent!r})\n"
            f"from {module} import main\n"
            "code = main()\n"
            "sys.stdout.flush()\n"
            "sys.stderr.flush()\n"
            "os._exit(code)\n")


def write_launchers(bin_dir: str) -> list[str]:
    bin_dir = os.path.abspath(bin_dir)
    python = os.path.join(bin_dir, "python3")
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    written = []
    for name, module in SCRIPTS.items():
        path = os.path.join(bin_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(launcher_text(python, package_parent, module))
        os.chmod(tmp, 0o755)
        os.rename(tmp, path)
        written.append(path)
    return written


def main() -> int:
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)
    for path in write_launchers(bin_dir):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
