"""``cove-runtime``: a runc-compatible command line over :mod:`cove.runtime`.

Only argument parsing, output formatting and the mapping of errors to exit
codes live here. Every command imports its implementation lazily: the
interpreter start-up is most of the cost of a call, so each verb pays only for
what it uses.
"""

from __future__ import annotations

import os
import sys

from cove.errors import CoveError, InvalidArgument
from cove.runtime_cli.args import MULTI, VALUE, Flag, Parsed, parse

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from cove.runtime.context import RuntimeContext

USAGE = """usage: cove-runtime [global options] command [command options] [arguments...]

An OCI runtime (runtime-spec 1.2) with runc's command line.

commands:
  create    create a container            start     start a created container
  run       create and start a container  state     output the state of a container
  kill      signal the container's init   delete    delete a container
  exec      run a process in a container  list      list containers
  ps        processes of a container      pause     freeze all processes
  resume    thaw all processes            features  show what this runtime supports
  spec      write a default config.json

global options:
  --root DIR          state directory (default /run/cove-runtime)
  --log FILE          log file (default stderr)
  --log-format FMT    text or json
  --debug             debug logging
"""

GLOBAL_FLAGS = [
    Flag("root", VALUE), Flag("log", VALUE), Flag("log-format", VALUE), Flag("debug"),
    Flag("systemd-cgroup"), Flag("criu", VALUE), Flag("rootless", VALUE),
    Flag("help", aliases=("h",)), Flag("version", aliases=("v",)),
]
CREATE_FLAGS = [
    Flag("bundle", VALUE, ("b",)), Flag("console-socket", VALUE), Flag("pid-file", VALUE),
    Flag("no-pivot"), Flag("no-new-keyring"), Flag("preserve-fds", VALUE),
]
RUN_FLAGS = [*CREATE_FLAGS, Flag("detach", aliases=("d",)), Flag("keep"),
             Flag("no-subreaper")]
EXEC_FLAGS = [
    Flag("console-socket", VALUE), Flag("cwd", VALUE), Flag("env", MULTI, ("e",)),
    Flag("tty", aliases=("t",)), Flag("user", VALUE, ("u",)),
    Flag("additional-gids", MULTI, ("g",)), Flag("process", VALUE, ("p",)),
    Flag("detach", aliases=("d",)), Flag("pid-file", VALUE), Flag("process-label", VALUE),
    Flag("apparmor", VALUE), Flag("no-new-privs"), Flag("cap", MULTI, ("c",)),
    Flag("preserve-fds", VALUE), Flag("cgroup", MULTI), Flag("ignore-paused"),
]


class UsageError(InvalidArgument):
    """Wrong number of arguments or bad flags."""


def _need(p: Parsed, command: str, count: int, at_most: int | None = None) -> None:
    n = len(p.args)
    hi = count if at_most is None else at_most
    if n < count or n > hi:
        want = f"exactly {count}" if hi == count else f"{count} to {hi}"
        raise UsageError(f'"{command}" requires {want} argument(s)')


def _print_json(value: Any, indent: int | None = 2) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=indent) + "\n")


def _int_flag(p: Parsed, name: str) -> int:
    raw = p.value(name, "0") or "0"
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"--{name}: not a number: {raw!r}") from None


def _create_opts(p: Parsed) -> Any:
    from cove.runtime.create import CreateOptions

    return CreateOptions(bundle=p.value("bundle", ".") or ".", pid_file=p.value("pid-file"),
                         console_socket=p.value("console-socket"),
                         no_pivot=p.bool("no-pivot"), preserve_fds=_int_flag(p, "preserve-fds"))


def _warm_cgroups() -> None:
    """Begin the kernel's cgroup-migration wait now, while the imports run (see module)."""
    from cove.runtime import cgroup_warmup

    cgroup_warmup.start()


def cmd_create(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, CREATE_FLAGS, where="create: ")
    _need(p, "create", 1)
    _warm_cgroups()
    from cove.runtime.create import create

    create(ctx, p.args[0], _create_opts(p))
    return 0


def cmd_start(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [], where="start: ")
    _need(p, "start", 1)
    from cove.runtime.start import start

    start(ctx, p.args[0])
    return 0


def cmd_run(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, RUN_FLAGS, where="run: ")
    _need(p, "run", 1)
    _warm_cgroups()
    from cove.runtime.run import run

    return run(ctx, p.args[0], _create_opts(p), detach=p.bool("detach"), keep=p.bool("keep"))


def cmd_state(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [], where="state: ")
    _need(p, "state", 1)
    from cove.runtime.query import state

    _print_json(state(ctx, p.args[0]))
    return 0


def cmd_kill(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [Flag("all", aliases=("a",))], where="kill: ")
    _need(p, "kill", 1, 2)
    from cove.runtime.kill import kill, parse_signal

    sig = parse_signal(p.args[1] if len(p.args) > 1 else "SIGTERM")
    kill(ctx, p.args[0], sig, all_processes=p.bool("all"))
    return 0


def cmd_delete(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [Flag("force", aliases=("f",))], where="delete: ")
    _need(p, "delete", 1)
    from cove.runtime.delete import delete

    delete(ctx, p.args[0], force=p.bool("force"))
    return 0


def cmd_exec(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, EXEC_FLAGS, where="exec: ")
    if not p.args:
        raise UsageError('"exec" requires a minimum of 1 argument(s)')
    _warm_cgroups()
    from cove.runtime.exec import ExecOptions, exec_process

    opts = ExecOptions(
        process_file=p.value("process"), args=p.args[1:], tty=p.bool("tty"),
        detach=p.bool("detach"), pid_file=p.value("pid-file"), cwd=p.value("cwd"),
        env=p.values("env"), user=p.value("user"),
        additional_gids=p.values("additional-gids"), caps=p.values("cap"),
        no_new_privs=p.bool("no-new-privs"), console_socket=p.value("console-socket"),
        preserve_fds=_int_flag(p, "preserve-fds"))
    return exec_process(ctx, p.args[0], opts)


def cmd_list(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [Flag("format", VALUE, ("f",)), Flag("quiet", aliases=("q",))],
              where="list: ")
    _need(p, "list", 0)
    from cove.runtime.query import list_containers

    items = list_containers(ctx)
    fmt = p.value("format", "table")
    if p.bool("quiet"):
        for item in items:
            sys.stdout.write(item["id"] + "\n")
    elif fmt == "json":
        _print_json(items, indent=None)
    elif fmt == "table":
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[i["id"], str(i.get("pid", 0)), i["status"], i["bundle"], i["created"],
                  i["owner"]] for i in items]
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        for row in rows:
            sys.stdout.write("   ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
                             .rstrip() + "\n")
    else:
        raise UsageError(f"invalid format option {fmt!r}: use table or json")
    return 0


def cmd_ps(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [Flag("format", VALUE, ("f",))], where="ps: ")
    if not p.args:
        raise UsageError('"ps" requires a minimum of 1 argument(s)')
    from cove.runtime.query import pids

    found = pids(ctx, p.args[0])
    fmt = p.value("format", "table")
    if fmt == "json":
        _print_json(found, indent=None)
        return 0
    if fmt != "table":
        raise UsageError(f"invalid format option {fmt!r}: use table or json")
    import subprocess

    ps_args = p.args[1:] or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise InvalidArgument(f"ps {' '.join(ps_args)}: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    if "PID" not in header:
        raise InvalidArgument("ps output has no PID column")
    col = header.index("PID")
    wanted = set(found)
    sys.stdout.write(lines[0] + "\n")
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            sys.stdout.write(line + "\n")
    return 0


def cmd_pause(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [], where="pause: ")
    _need(p, "pause", 1)
    from cove.runtime.pause import pause

    pause(ctx, p.args[0])
    return 0


def cmd_resume(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [], where="resume: ")
    _need(p, "resume", 1)
    from cove.runtime.pause import resume

    resume(ctx, p.args[0])
    return 0


def cmd_features(ctx: RuntimeContext, argv: list[str]) -> int:
    _need(parse(argv, [], where="features: "), "features", 0)
    from cove.oci.runtime_defaults import features

    _print_json(features())
    return 0


def cmd_spec(ctx: RuntimeContext, argv: list[str]) -> int:
    p = parse(argv, [Flag("bundle", VALUE, ("b",)), Flag("rootless")], where="spec: ")
    _need(p, "spec", 0)
    import json

    from cove.oci.runtime_defaults import default_spec

    bundle = p.value("bundle", ".") or "."
    path = os.path.join(bundle, "config.json")
    if os.path.lexists(path):
        raise InvalidArgument(f"File {path} exists. Remove it first")
    data = json.dumps(default_spec(rootless=p.bool("rootless")), indent="\t") + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise InvalidArgument(f"write {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as f:
        f.write(data)
    return 0


COMMANDS: dict[str, Callable[[Any, list[str]], int]] = {
    "create": cmd_create, "start": cmd_start, "run": cmd_run, "state": cmd_state,
    "kill": cmd_kill, "delete": cmd_delete, "exec": cmd_exec, "list": cmd_list,
    "ps": cmd_ps, "pause": cmd_pause, "resume": cmd_resume, "features": cmd_features,
    "spec": cmd_spec,
}


class _Log:
    """Sets up logging only when needed: on an error, or when --log/--debug ask for it."""

    def __init__(self, g: Parsed) -> None:
        self.g = g
        self.configured: Any = None

    def configure(self) -> Any:
        if self.configured is None:
            from cove.runtime_cli.logs import setup_logging

            self.configured = setup_logging(self.g.value("log"),
                                            self.g.value("log-format", "text") or "text",
                                            self.g.bool("debug"))
        return self.configured

    def fatal(self, message: str) -> int:
        return int(self.configure().fatal(message))


def _ensure_stdio() -> None:
    """Give any closed standard fd /dev/null: a pipe made later must never land on 0-2,
    where the container would inherit it as its stdio."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open("/dev/null", os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)  # dup2 targets are inheritable
                os.close(null)
            else:
                os.set_inheritable(fd, True)


def main(argv: list[str] | None = None) -> int:
    _ensure_stdio()
    argv = sys.argv[1:] if argv is None else argv
    try:
        g = parse(argv, GLOBAL_FLAGS, where="")
    except InvalidArgument as exc:
        sys.stderr.write(f"cove-runtime: {exc}\n")
        return 1
    if g.bool("version"):
        from cove import __version__

        sys.stdout.write(f"cove-runtime version {__version__}\nspec: 1.2.0\n")
        return 0
    if g.bool("help") or not g.args or g.args[0] in ("help", "h"):
        sys.stdout.write(USAGE)
        return 0 if g.bool("help") or (g.args and g.args[0] in ("help", "h")) else 1
    command, rest = g.args[0], g.args[1:]
    handler = COMMANDS.get(command)
    log = _Log(g)
    if handler is None:
        return log.fatal(f"No help topic for '{command}'")
    from cove.runtime.context import RuntimeContext

    if g.bool("debug") or g.value("log"):
        log.configure()
    ctx = RuntimeContext(root=g.value("root") or "/run/cove-runtime")
    try:
        return handler(ctx, rest)
    except CoveError as exc:
        return log.fatal(str(exc))
    except OSError as exc:
        return log.fatal(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
