"""Verbs with an attached stream: create, run, start, attach, exec."""

from __future__ import annotations

import os

from cove.cli import tty as ttymod
from cove.cli.errors import CliError, DaemonError, StatusExit, UsageError, exec_exit_code
from cove.cli.flags import BOOL, LIST, STRING, Flag, FlagSet
from cove.cli.runopts import CREATE_FLAGS, RUN_FLAGS, build_create_body
from cove.cli.transport import quote
from cove.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from cove.cli.context import Context
    from cove.cli.flags import Options
    from cove.cli.transport import Connection

log = get_logger(__name__)

CREATE = FlagSet("cove create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container",
                 CREATE_FLAGS, interspersed=False, min_args=1)
RUN = FlagSet("cove run", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
              "Create and run a new container from an image", RUN_FLAGS, interspersed=False,
              min_args=1)


def _detach_keys(text: str) -> str:
    ttymod.parse_detach_keys(text)
    return text


def _with_tag(image: str) -> str:
    from cove.cli.commands.containers import split_reference

    if "@" in image:
        return image
    repo, tag = split_reference(image)
    return f"{repo}:{tag or 'latest'}"


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._/:-")


def _plain_reference(ref: str) -> bool:
    """True for the everyday names (``busybox``, ``reg:5000/a/b:1.2``) that need no parse.

    A gate for speed only: anything unusual (capitals, digests, doubled or edge
    separators) goes to the real parser.
    """
    return (bool(ref) and all(c in _PLAIN for c in ref) and ref[0].isalnum()
            and ref[-1].isalnum() and "::" not in ref and "//" not in ref
            and ref.count(":") <= 2)


def _create(ctx: Context, opts: Options, image: str, body: dict[str, Any]) -> str:
    """POST /containers/create with ``body``, pulling a missing image first as docker does."""
    if opts.bool("tty"):
        # docker sends the terminal's size with the create, so the first output
        # is already laid out for it (the resize after attach follows anyway)
        size = ttymod.size(ctx.stdout.fileno())
        if size is not None:
            body["HostConfig"]["ConsoleSize"] = [size[0], size[1]]
    pull = opts.str("pull")
    platform = opts.str("platform") or None
    quiet = opts.bool("quiet")
    cidfile = opts.str("cidfile")
    if cidfile and os.path.exists(cidfile):
        raise CliError(f"container ID file found, make sure the other container isn't "
                       f"running or delete {cidfile}")
    from cove.cli.commands.images import pull_image

    if pull == "always":
        pull_image(ctx, image, platform, quiet, ctx.stderr)
    query: dict[str, Any] = {"name": opts.str("name") or None, "platform": platform}
    if not _plain_reference(image):
        # docker refuses a malformed name before asking; the parser costs ~15 ms of
        # imports, so only names that are not plainly fine go through it
        from cove.cli.commands.images import check_reference

        check_reference(image, allow_id=True)
    try:
        doc = ctx.client.post_json("/containers/create", query, body)
    except DaemonError as e:
        if e.status != 404 or pull == "never" or "image" not in e.message.lower():
            raise
        ctx.err(f"Unable to find image '{_with_tag(image)}' locally\n")
        pull_image(ctx, image, platform, quiet, ctx.stderr)
        doc = ctx.client.post_json("/containers/create", query, body)
    doc = doc or {}
    for warning in doc.get("Warnings") or []:
        ctx.err(f"WARNING: {warning}\n")
    ident = str(doc.get("Id", ""))
    if cidfile:
        try:
            with open(cidfile, "x") as f:
                f.write(ident)
        except OSError as e:
            raise CliError(f"failed to create the container ID file: {e}") from None
    return ident


def cmd_create(ctx: Context, argv: list[str]) -> int:
    opts, args = CREATE.parse(argv)
    try:
        body = build_create_body(opts, args[0], args[1:])
    except CliError as e:
        # docker create reports what its parse of the options refuses as run does
        # ("docker: <error>", exit 125, always naming "create"); its later errors
        # (the ID file, the reference, the daemon) are printed plainly
        raise CliError(f"cove: {e.message}\n\nRun 'cove create --help' for more information",
                       125) from None
    ctx.out(_create(ctx, opts, args[0], body) + "\n")
    return 0


def _resizer(ctx: Context, path: str) -> Callable[[], None]:
    def resize() -> None:
        size = ttymod.size(ctx.stdout.fileno()) or ttymod.size(0)
        if size is None:
            return
        try:
            ctx.client.call("POST", path, {"h": size[0], "w": size[1]})
        except CliError as e:
            log.debug("resize %s: %s", path, e.message)
    return resize


_PROXIED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def _proxy_signals(ctx: Context, ident: str) -> Callable[[], None]:
    """Forward signals we receive to the container (``--sig-proxy``, no tty)."""
    import signal

    saved: list[tuple[int, Any]] = []

    def forward(signum: int, _frame: object) -> None:
        try:
            ctx.client.call("POST", f"/containers/{quote(ident)}/kill",
                            {"signal": str(signum)})
        except CliError as e:
            log.debug("forwarding signal %d: %s", signum, e.message)

    for name in _PROXIED:
        sig = getattr(signal, name)
        saved.append((sig, signal.signal(sig, forward)))

    def restore() -> None:
        for sig, old in saved:
            signal.signal(sig, old)
    return restore


def _stream(ctx: Context, conn: Connection, *, tty: bool, stdin: bool, detach_keys: str,
            resize_path: str | None, proxy_id: str | None = None) -> str:
    """Pump the hijacked stream with the terminal in raw mode when it should be."""
    from cove.cli.attachio import pump

    stdin_fd = 0 if stdin else None
    raw = tty and stdin and os.isatty(0)
    restores: list[Callable[[], None]] = []
    try:
        if tty and resize_path is not None:
            resize = _resizer(ctx, resize_path)
            resize()
            restores.append(ttymod.on_resize(resize))
        if proxy_id is not None and not tty:
            restores.append(_proxy_signals(ctx, proxy_id))
        ctx.stdout.flush()
        with ttymod.RawMode(0, enabled=raw):
            return pump(conn, tty=tty, stdin_fd=stdin_fd, stdout_fd=ctx.stdout.fileno(),
                        stderr_fd=ctx.stderr.fileno(),
                        detach_keys=ttymod.parse_detach_keys(detach_keys) if stdin else b"")
    finally:
        for restore in reversed(restores):
            restore()
        conn.close()


def _check_tty_input(tty: bool, interactive: bool) -> None:
    if tty and interactive and not os.isatty(0):
        raise CliError("the input device is not a TTY", 1)


def _wait_result(ctx: Context, conn: Connection) -> int:
    resp = ctx.client.response(conn, "POST")
    doc = resp.json() or {}
    resp.close()
    error = (doc.get("Error") or {}).get("Message") if isinstance(doc, dict) else None
    if error:
        ctx.err(f"{error}\n")
    return int(doc.get("StatusCode", 0)) if isinstance(doc, dict) else 0


def _start(ctx: Context, path: str, remove_on_failure: bool) -> None:
    """POST start; a failure becomes docker's 125/126/127.

    With --rm the container that never ran is removed here: the daemon's
    auto-removal follows an exit, and there was none.
    """
    try:
        ctx.client.call("POST", path + "/start")
    except DaemonError as e:
        if remove_on_failure:
            try:
                ctx.client.call("DELETE", path, {"force": True})
            except CliError as cleanup:
                log.debug("removing %s after a failed start: %s", path, cleanup.message)
        raise CliError(str(e), exec_exit_code(e.message)) from None


def _attach_start_wait(ctx: Context, path: str, *, streams: set[str], tty: bool,
                       detach_keys: str, condition: str, proxy_id: str | None) -> int:
    """Attach, then start, then wait: docker's order, so no early output is lost.

    The wait request goes out before the start (its answer is read at the end),
    so even a container removed on exit (--rm) still reports its status.
    """
    wait_conn = ctx.client.send("POST", path + "/wait", {"condition": condition})
    try:
        conn, _ = ctx.client.hijack(path + "/attach", {
            "stream": True, "stdin": "stdin" in streams, "stdout": "stdout" in streams,
            "stderr": "stderr" in streams, "detachKeys": detach_keys})
        try:
            _start(ctx, path, condition == "removed")
        except CliError:
            conn.close()
            raise
        result = _stream(ctx, conn, tty=tty, stdin="stdin" in streams,
                         detach_keys=detach_keys, resize_path=path + "/resize",
                         proxy_id=proxy_id)
        if result == "detached":
            return 0
        return _wait_result(ctx, wait_conn)
    finally:
        wait_conn.close()


def cmd_run(ctx: Context, argv: list[str]) -> int:
    opts, args = RUN.parse(argv)
    if not opts.bool("detach"):
        _check_tty_input(opts.bool("tty"), opts.bool("interactive"))  # said plainly
    try:
        return _run(ctx, opts, args)
    except CliError as e:
        # docker run's layout for everything after parsing: "docker: <error>" and
        # a pointer to --help
        text = str(e) if isinstance(e, DaemonError) else e.message
        raise CliError(f"cove: {text}\n\nRun 'cove run --help' for more information",
                       e.exit_code) from None


def _run(ctx: Context, opts: Options, args: list[str]) -> int:
    detach_keys = opts.str("detach_keys") or ttymod.DEFAULT_DETACH_KEYS
    tty, interactive = opts.bool("tty"), opts.bool("interactive")
    detach = opts.bool("detach")
    try:
        ident = _create(ctx, opts, args[0], build_create_body(opts, args[0], args[1:]))
    except CliError as e:
        e.exit_code = 125  # docker run: every failure before the start is 125
        raise
    path = f"/containers/{quote(ident)}"
    if detach:
        _start(ctx, path, opts.bool("rm"))
        ctx.out(ident + "\n")
        return 0
    streams = set(opts.list("attach") or ["stdout", "stderr"])
    if interactive:
        streams.add("stdin")
    return _attach_start_wait(ctx, path, streams=streams, tty=tty, detach_keys=detach_keys,
                              condition="removed" if opts.bool("rm") else "next-exit",
                              proxy_id=ident if opts.bool("sig_proxy") else None)


START = FlagSet("cove start", "[OPTIONS] CONTAINER [CONTAINER...]",
                "Start one or more stopped containers", [
                    Flag("attach", "a", BOOL, help="Attach STDOUT/STDERR and forward signals"),
                    Flag("interactive", "i", BOOL, help="Attach container's STDIN"),
                    Flag("detach-keys", "", STRING, convert=_detach_keys,
                         help="Override the key sequence for detaching a container"),
                ], min_args=1)


def cmd_start(ctx: Context, argv: list[str]) -> int:
    opts, names = START.parse(argv)
    if not (opts.bool("attach") or opts.bool("interactive")):
        from cove.cli.commands import for_each

        started: list[str] = []

        def start(name: str) -> str:
            ctx.client.call("POST", f"/containers/{quote(name)}/start")
            started.append(name)
            return name

        code = for_each(ctx, names, start)
        if code:
            failed = [n for n in names if n not in started]
            ctx.err(f"Error: failed to start containers: {', '.join(failed)}\n")
        return code
    if len(names) > 1:
        raise CliError("you cannot start and attach multiple containers at once")
    path = f"/containers/{quote(names[0])}"
    info = ctx.client.get_json(path + "/json") or {}
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = opts.bool("interactive") and bool(config.get("OpenStdin"))
    _check_tty_input(tty, stdin)
    detach_keys = opts.str("detach_keys") or ttymod.DEFAULT_DETACH_KEYS
    streams = {"stdout", "stderr", "stdin"} if stdin else {"stdout", "stderr"}
    return _attach_start_wait(ctx, path, streams=streams, tty=tty, detach_keys=detach_keys,
                              condition="next-exit", proxy_id=str(info.get("Id", "")))


ATTACH = FlagSet("cove attach", "[OPTIONS] CONTAINER", "Attach local standard input, output, "
                 "and error streams to a running container", [
                     Flag("no-stdin", "", BOOL, help="Do not attach STDIN"),
                     Flag("detach-keys", "", STRING, convert=_detach_keys,
                          help="Override the key sequence for detaching a container"),
                     Flag("sig-proxy", "", BOOL, default=True,
                          help="Proxy all received signals to the process"),
                 ], min_args=1, max_args=1)


def cmd_attach(ctx: Context, argv: list[str]) -> int:
    opts, (name,) = ATTACH.parse(argv)
    path = f"/containers/{quote(name)}"
    info = ctx.client.get_json(path + "/json") or {}
    state = info.get("State") or {}
    if not state.get("Running"):
        raise CliError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise CliError("You cannot attach to a paused container, unpause it first")
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = bool(config.get("OpenStdin")) and not opts.bool("no_stdin")
    _check_tty_input(tty, stdin)
    detach_keys = opts.str("detach_keys") or ttymod.DEFAULT_DETACH_KEYS
    conn, _ = ctx.client.hijack(path + "/attach", {
        "stream": True, "stdin": stdin, "stdout": True, "stderr": True,
        "detachKeys": detach_keys})
    result = _stream(ctx, conn, tty=tty, stdin=stdin, detach_keys=detach_keys,
                     resize_path=path + "/resize",
                     proxy_id=str(info.get("Id", "")) if opts.bool("sig_proxy") else None)
    if result == "detached":
        return 0
    doc = ctx.client.post_json(path + "/wait") or {}
    return int(doc.get("StatusCode", 0))


EXEC = FlagSet("cove exec", "[OPTIONS] CONTAINER COMMAND [ARG...]",
               "Execute a command in a running container", [
                   Flag("detach", "d", BOOL, help="Detached mode: run command in the "
                        "background"),
                   Flag("interactive", "i", BOOL, help="Keep STDIN open even if not attached"),
                   Flag("tty", "t", BOOL, help="Allocate a pseudo-TTY"),
                   Flag("env", "e", LIST, help="Set environment variables"),
                   Flag("env-file", "", LIST, help="Read in a file of environment variables"),
                   Flag("user", "u", STRING, help="Username or UID"),
                   Flag("workdir", "w", STRING, help="Working directory inside the container"),
                   Flag("privileged", "", BOOL, help="Give extended privileges to the command"),
                   Flag("detach-keys", "", STRING, convert=_detach_keys,
                        help="Override the key sequence for detaching a container"),
               ], interspersed=False, min_args=2)


def cmd_exec(ctx: Context, argv: list[str]) -> int:
    from cove.cli import units

    opts, args = EXEC.parse(argv)
    name, command = args[0], args[1:]
    detach, tty, interactive = opts.bool("detach"), opts.bool("tty"), opts.bool("interactive")
    if not detach:
        _check_tty_input(tty, interactive)
    env: list[str] = []
    for path in opts.list("env_file"):
        try:
            env += units.read_kv_file(path, os.environ.get)
        except ValueError as e:
            raise UsageError(f'invalid argument "{path}" for "--env-file" flag: {e}',
                             EXEC.command) from None
    for item in opts.list("env"):
        value = units.parse_env(item)
        if value is not None:
            env.append(value)
    detach_keys = opts.str("detach_keys") or ttymod.DEFAULT_DETACH_KEYS
    body: dict[str, Any] = {
        "AttachStdin": interactive and not detach, "AttachStdout": not detach,
        "AttachStderr": not detach, "Tty": tty, "Env": env, "User": opts.str("user"),
        "WorkingDir": opts.str("workdir"), "Privileged": opts.bool("privileged"),
        "Cmd": command, "DetachKeys": detach_keys}
    start_body: dict[str, Any] = {"Detach": detach, "Tty": tty}
    size = ttymod.size(ctx.stdout.fileno()) if tty and not detach else None
    if size is not None:
        # as docker: the process starts at the terminal's size, resizes follow
        body["ConsoleSize"] = start_body["ConsoleSize"] = [size[0], size[1]]
    doc = ctx.client.post_json(f"/containers/{quote(name)}/exec", body=body) or {}
    exec_id = str(doc.get("Id", ""))
    start_path = f"/exec/{quote(exec_id)}/start"
    if detach:
        resp = ctx.client.request("POST", start_path, body=start_body, json_body=True)
        resp.read()
        resp.close()
        return 0
    try:
        conn, _ = ctx.client.hijack(start_path, body=start_body)
    except DaemonError as e:
        raise CliError(str(e), exec_exit_code(e.message)) from None
    result = _stream(ctx, conn, tty=tty, stdin=interactive, detach_keys=detach_keys,
                     resize_path=f"/exec/{quote(exec_id)}/resize")
    if result == "detached":
        return 0
    info = ctx.client.get_json(f"/exec/{quote(exec_id)}/json") or {}
    code = info.get("ExitCode")
    if code is None:
        raise StatusExit(0)
    return int(code)
