"""Container verbs that need no attached stream: ps, stop, rm, logs, top, stats..."""

from __future__ import annotations

from cove.cli import units
from cove.cli.commands import check_filter, filters_json, for_each
from cove.cli.errors import CliError, DaemonError, UsageError
from cove.cli.flags import BOOL, INT, LIST, STRING, Flag, FlagSet
from cove.cli.transport import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cove.cli.context import Context


def _path(ident: str, suffix: str = "") -> str:
    return f"/containers/{quote(ident)}{suffix}"


# ps ------------------------------------------------------------------------------------

PS = FlagSet("cove ps", "[OPTIONS]", "List containers", [
    Flag("all", "a", BOOL, help="Show all containers (default shows just running)"),
    Flag("quiet", "q", BOOL, help="Only display container IDs"),
    Flag("last", "n", INT, default=-1, help="Show n last created containers (includes all "
         "states)"),
    Flag("latest", "l", BOOL, help="Show the latest created container (includes all states)"),
    Flag("size", "s", BOOL, help="Display total file sizes"),
    Flag("no-trunc", "", BOOL, help="Don't truncate output"),
    Flag("filter", "f", LIST, help="Filter output based on conditions provided",
         convert=check_filter),
    Flag("format", "", STRING, help="Format output using a custom template"),
], max_args=0)


def cmd_ps(ctx: Context, argv: list[str]) -> int:
    opts, _ = PS.parse(argv)
    try:
        filters = filters_json(opts.list("filter"))
    except ValueError as e:
        raise UsageError(str(e), PS.command) from None
    limit = 1 if opts.bool("latest") else opts.int("last")
    query: dict[str, Any] = {"all": True if opts.bool("all") or limit > 0 else None,
                             "limit": limit if limit > 0 else None,
                             "size": True if opts.bool("size") else None,
                             "filters": filters}
    fmt = opts.str("format")
    if ".Size" in fmt:
        query["size"] = True  # as docker: a format showing sizes asks for them
    trunc = not opts.bool("no_trunc")
    listing = None
    if not opts.bool("quiet"):
        from cove.cli.tables import ListFormat
        from cove.cli.views import ContainerRow

        default = ContainerRow.DEFAULT + ("\t{{.Size}}" if opts.bool("size") else "")
        listing = ListFormat(fmt, default, ContainerRow.HEADERS, ContainerRow({}))
    containers = ctx.client.get_json("/containers/json", query) or []
    if listing is None:
        for c in containers:
            ident = str(c.get("Id", ""))
            ctx.out((ident[:12] if trunc else ident) + "\n")
        return 0
    ctx.out(listing.render(ContainerRow(c, trunc) for c in containers))
    return 0


# lifecycle -----------------------------------------------------------------------------

STOP = FlagSet("cove stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running "
               "containers", [
                   Flag("timeout", "t", INT, default=-1, dest="time",
                        help="Seconds to wait before killing the container"),
                   Flag("time", "", INT, default=-1, help="Deprecated: use --timeout"),
                   # passed on unchecked, as docker does: the daemon names a bad one
                   Flag("signal", "s", STRING, help="Signal to send to the container"),
               ], min_args=1)


def _stop_like(ctx: Context, argv: list[str], flags: FlagSet, verb: str) -> int:
    opts, names = flags.parse(argv)
    query: dict[str, Any] = {"t": opts.int("time") if opts.is_set("time") else None,
                             "signal": opts.str("signal") or None}

    def act(name: str) -> str:
        resp = ctx.client.request("POST", _path(name, f"/{verb}"), query)
        resp.read()
        resp.close()
        if resp.headers.get("x-cove-stop-signal-ignored") == "true":
            # Beyond docker: say why the stop took the whole grace period.
            ctx.err(f"{name}: the container's main process (PID 1) ignored the stop signal "
                    "and was killed (exit 137) when the grace period ended; run it with "
                    "--init, or handle the signal in the program (--stop-signal chooses "
                    "another one)\n")
        return name
    return for_each(ctx, names, act)


def _each_call(ctx: Context, names: list[str], method: str, suffix: str,
               query: dict[str, Any] | None = None) -> int:
    """One request per container, printing each name that succeeded."""
    def act(name: str) -> str:
        ctx.client.call(method, _path(name, suffix), query)
        return name
    return for_each(ctx, names, act)


def cmd_stop(ctx: Context, argv: list[str]) -> int:
    return _stop_like(ctx, argv, STOP, "stop")


RESTART = FlagSet("cove restart", "[OPTIONS] CONTAINER [CONTAINER...]",
                  "Restart one or more containers", STOP.flags, min_args=1)


def cmd_restart(ctx: Context, argv: list[str]) -> int:
    return _stop_like(ctx, argv, RESTART, "restart")


KILL = FlagSet("cove kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running "
               "containers", [Flag("signal", "s", STRING, help="Signal to send to the container")],
               min_args=1)


def cmd_kill(ctx: Context, argv: list[str]) -> int:
    opts, names = KILL.parse(argv)
    query: dict[str, Any] = {"signal": opts.str("signal") or None}
    return _each_call(ctx, names, "POST", "/kill", query)


RM = FlagSet("cove rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", [
    Flag("force", "f", BOOL, help="Force the removal of a running container (uses SIGKILL)"),
    Flag("volumes", "v", BOOL, help="Remove anonymous volumes associated with the container"),
    Flag("link", "l", BOOL, help="Remove the specified link"),
], min_args=1)


def cmd_rm(ctx: Context, argv: list[str]) -> int:
    opts, names = RM.parse(argv)
    query: dict[str, Any] = {"force": opts.bool("force") or None,
                             "v": opts.bool("volumes") or None,
                             "link": opts.bool("link") or None}
    return _each_call(ctx, names, "DELETE", "", query)


def _simple(ctx: Context, argv: list[str], verb: str, description: str) -> int:
    flags = FlagSet(f"cove {verb}", "CONTAINER [CONTAINER...]", description, [], min_args=1)
    _, names = flags.parse(argv)
    return _each_call(ctx, names, "POST", f"/{verb}")


def cmd_pause(ctx: Context, argv: list[str]) -> int:
    return _simple(ctx, argv, "pause", "Pause all processes within one or more containers")


def cmd_unpause(ctx: Context, argv: list[str]) -> int:
    return _simple(ctx, argv, "unpause", "Unpause all processes within one or more containers")


RENAME = FlagSet("cove rename", "CONTAINER NEW_NAME", "Rename a container", [],
                 min_args=2, max_args=2)


def cmd_rename(ctx: Context, argv: list[str]) -> int:
    _, (old, new) = RENAME.parse(argv)
    if not new.strip():
        raise CliError("Error: neither old nor new names may be empty")
    try:
        ctx.client.call("POST", _path(old, "/rename"), {"name": new})
    except DaemonError as e:
        ctx.err(f"{e}\n")
        raise CliError(f"Error: failed to rename container named {old}") from None
    return 0


WAIT = FlagSet("cove wait", "CONTAINER [CONTAINER...]", "Block until one or more containers "
               "stop, then print their exit codes", [], min_args=1)


def cmd_wait(ctx: Context, argv: list[str]) -> int:
    _, names = WAIT.parse(argv)

    def wait(name: str) -> str:
        doc = ctx.client.post_json(_path(name, "/wait")) or {}
        return str(doc.get("StatusCode", 0))

    return for_each(ctx, names, wait)


UPDATE = FlagSet("cove update", "[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of "
                 "one or more containers", [
                     Flag("memory", "m", STRING, default=0, metavar="bytes",
                          help="Memory limit", convert=units.parse_ram),
                     Flag("memory-swap", "", STRING, default=0, metavar="bytes",
                          help="Swap limit equal to memory plus swap: -1 to enable unlimited "
                          "swap", convert=units.parse_swap),
                     Flag("memory-reservation", "", STRING, default=0, metavar="bytes",
                          help="Memory soft limit", convert=units.parse_ram),
                     Flag("cpus", "", STRING, default=0, metavar="decimal",
                          help="Number of CPUs", convert=units.parse_nanocpus),
                     Flag("cpu-shares", "c", INT, help="CPU shares (relative weight)"),
                     Flag("cpu-period", "", INT, help="Limit CPU CFS period"),
                     Flag("cpu-quota", "", INT, help="Limit CPU CFS quota"),
                     Flag("cpuset-cpus", "", STRING, help="CPUs in which to allow execution"),
                     Flag("cpuset-mems", "", STRING, help="MEMs in which to allow execution"),
                     Flag("blkio-weight", "", INT, help="Block IO (relative weight)"),
                     Flag("pids-limit", "", INT, help="Tune container pids limit"),
                     Flag("restart", "", STRING, help="Restart policy to apply",
                          convert=units.parse_restart),
                 ], min_args=1)

_UPDATE_FIELDS = {"memory": "Memory", "memory_swap": "MemorySwap",
                  "memory_reservation": "MemoryReservation", "cpus": "NanoCpus",
                  "cpu_shares": "CpuShares", "cpu_period": "CpuPeriod",
                  "cpu_quota": "CpuQuota", "cpuset_cpus": "CpusetCpus",
                  "cpuset_mems": "CpusetMems", "blkio_weight": "BlkioWeight",
                  "pids_limit": "PidsLimit", "restart": "RestartPolicy"}


def cmd_update(ctx: Context, argv: list[str]) -> int:
    opts, names = UPDATE.parse(argv)
    body = {api: opts[dest] for dest, api in _UPDATE_FIELDS.items() if opts.is_set(dest)}
    if not body:
        raise UsageError("you must provide one or more flags when using this command",
                         UPDATE.command)

    def update(name: str) -> str:
        doc = ctx.client.post_json(_path(name, "/update"), body=body) or {}
        for warning in doc.get("Warnings") or []:
            ctx.err(f"WARNING: {warning}\n")
        return name

    return for_each(ctx, names, update)


# logs ----------------------------------------------------------------------------------

def _timestamp(text: str) -> str:
    return units.parse_timestamp(text)


LOGS = FlagSet("cove logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", [
    Flag("follow", "f", BOOL, help="Follow log output"),
    Flag("since", "", STRING, help="Show logs since timestamp or relative (e.g. 42m)",
         convert=_timestamp),
    Flag("until", "", STRING, help="Show logs before a timestamp or relative (e.g. 42m)",
         convert=_timestamp),
    # passed on unchecked, as docker does: the daemon refuses a bad one
    Flag("tail", "n", STRING, default="all", help="Number of lines to show from the end"),
    Flag("timestamps", "t", BOOL, help="Show timestamps"),
    Flag("details", "", BOOL, help="Show extra details provided to logs"),
], min_args=1, max_args=1)


def cmd_logs(ctx: Context, argv: list[str]) -> int:
    opts, (name,) = LOGS.parse(argv)
    info = ctx.client.get_json(_path(name, "/json")) or {}
    tty = bool((info.get("Config") or {}).get("Tty"))
    query: dict[str, Any] = {"stdout": True, "stderr": True,
                             "follow": opts.bool("follow") or None,
                             "since": opts.str("since") or None,
                             "until": opts.str("until") or None,
                             "tail": opts.str("tail"),
                             "timestamps": opts.bool("timestamps") or None,
                             "details": opts.bool("details") or None}
    resp = ctx.client.request("GET", _path(name, "/logs"), query)
    try:
        write_stream(ctx, resp.iter_body(), tty)
    finally:
        resp.close()
    return 0


def write_stream(ctx: Context, chunks: Any, tty: bool) -> None:
    """Copy a raw (tty) or multiplexed stream to our stdout/stderr."""
    import sys

    from cove.cli.streams import STDERR, SYSTEMERR, Demuxer

    out = ctx.stdout_bin
    ctx.stderr.flush()
    err = getattr(ctx.stderr, "buffer", sys.stderr.buffer)
    demux = None if tty else Demuxer()
    for data in chunks:
        if demux is None:
            out.write(data)
            out.flush()
            continue
        for kind, payload in demux.feed(data):
            target = err if kind in (STDERR, SYSTEMERR) else out
            target.write(payload)
            target.flush()


# top, port, diff -----------------------------------------------------------------------

TOP = FlagSet("cove top", "CONTAINER [ps OPTIONS]", "Display the running processes of a "
              "container", [], interspersed=False, min_args=1)


def cmd_top(ctx: Context, argv: list[str]) -> int:
    _, args = TOP.parse(argv)
    name, ps_args = args[0], args[1:]
    doc = ctx.client.get_json(_path(name, "/top"),
                              {"ps_args": " ".join(ps_args) if ps_args else None}) or {}
    from cove.cli.tables import tabwrite

    lines = ["\t".join(doc.get("Titles") or [])]
    lines += ["\t".join(str(v) for v in proc) for proc in doc.get("Processes") or []]
    ctx.out(tabwrite("\n".join(lines) + "\n", minwidth=20))  # docker top's layout
    return 0


PORT = FlagSet("cove port", "CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a "
               "specific mapping for the container", [], min_args=1, max_args=2)


def cmd_port(ctx: Context, argv: list[str]) -> int:
    _, args = PORT.parse(argv)
    info = ctx.client.get_json(_path(args[0], "/json")) or {}
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    out: list[str] = []
    if len(args) == 2:
        port, _, proto = args[1].partition("/")
        _check_port_number(port)
        bindings = ports.get(f"{port}/{proto or 'tcp'}")
        if not bindings:
            raise CliError(f"Error: No public port '{args[1]}' published for {args[0]}")
        out = [_host_port(b) for b in bindings]
    else:
        out = [f"{key} -> {_host_port(b)}" for key, bindings in ports.items()
               for b in bindings or []]
    # docker sorts the finished lines (sortorder.NaturalLess), the one port's too
    from cove.cli.commands.networks import natural_key

    for line in sorted(out, key=natural_key):
        ctx.out(line + "\n")
    return 0


def _check_port_number(port: str) -> None:
    """docker's strconv.ParseUint(port, 10, 16), with its error words."""
    if not port or not all("0" <= c <= "9" for c in port):
        raise CliError(f"Error: invalid port ({port}): strconv.ParseUint: parsing "
                       f'"{port}": invalid syntax')
    if int(port) > 0xFFFF:
        raise CliError(f"Error: invalid port ({port}): strconv.ParseUint: parsing "
                       f'"{port}": value out of range')


def _host_port(binding: dict[str, Any]) -> str:
    """Go's net.JoinHostPort: an empty HostIp stays empty (":5353"), IPv6 goes in brackets."""
    ip = str(binding.get("HostIp") or "")
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{binding.get('HostPort') or ''}"


DIFF = FlagSet("cove diff", "CONTAINER", "Inspect changes to files or directories on a "
               "container's filesystem", [], min_args=1, max_args=1)


def cmd_diff(ctx: Context, argv: list[str]) -> int:
    _, (name,) = DIFF.parse(argv)
    for change in ctx.client.get_json(_path(name, "/changes")) or []:
        kind = {0: "C", 1: "A", 2: "D"}.get(change.get("Kind"), "?")
        ctx.out(f"{kind} {change.get('Path', '')}\n")
    return 0


# commit, export ------------------------------------------------------------------------

COMMIT = FlagSet("cove commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                 "Create a new image from a container's changes", [
                     Flag("author", "a", STRING, help='Author (e.g., "John Hannibal Smith '
                          '<hannibal@a-team.com>")'),
                     Flag("change", "c", LIST, help="Apply Dockerfile instruction to the "
                          "created image"),
                     Flag("message", "m", STRING, help="Commit message"),
                     Flag("pause", "p", BOOL, default=True, help="Pause container during "
                          "commit"),
                 ], min_args=1, max_args=2)


def split_reference(ref: str) -> tuple[str, str]:
    """``repo[:tag]`` → (repo, tag); a colon in the registry's port is not a tag."""
    at = ref.find("@")
    if at >= 0:
        return ref[:at], ref[at + 1:]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, ""


def cmd_commit(ctx: Context, argv: list[str]) -> int:
    opts, args = COMMIT.parse(argv)
    repo, tag = split_reference(args[1]) if len(args) == 2 else ("", "")
    query: dict[str, Any] = {"container": args[0], "repo": repo or None, "tag": tag or None,
                             "comment": opts.str("message") or None,
                             "author": opts.str("author") or None,
                             "pause": opts.bool("pause"),
                             "changes": opts.list("change") or None}
    doc = ctx.client.post_json("/commit", query, body={}) or {}
    ctx.out(f"{doc.get('Id', '')}\n")
    return 0


EXPORT = FlagSet("cove export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a "
                 "tar archive", [Flag("output", "o", STRING, help="Write to a file, instead "
                                      "of STDOUT")], min_args=1, max_args=1)


def copy_to_output(ctx: Context, chunks: Any, output: str) -> None:
    """A binary download to ``-o FILE`` or stdout (never to a terminal, like docker)."""
    import os

    if not output:
        if os.isatty(ctx.stdout.fileno()):
            raise CliError("cowardly refusing to save to a terminal. Use the -o flag or "
                           "redirect")
        out = ctx.stdout_bin
        for data in chunks:
            out.write(data)
        out.flush()
        return
    tmp = f"{output}.cove-tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            for data in chunks:
                f.write(data)
        os.replace(tmp, output)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CliError(f"failed to save to {output}: {e.strerror or e}") from None


def download(ctx: Context, path: str, query: dict[str, Any] | None, output: str) -> None:
    """GET ``path`` into ``-o FILE`` or stdout (export, save)."""
    resp = ctx.client.request("GET", path, query)
    try:
        copy_to_output(ctx, resp.iter_body(), output)
    finally:
        resp.close()


def cmd_export(ctx: Context, argv: list[str]) -> int:
    opts, (name,) = EXPORT.parse(argv)
    download(ctx, _path(name, "/export"), None, opts.str("output"))
    return 0


# stats ---------------------------------------------------------------------------------

STATS = FlagSet("cove stats", "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) "
                "resource usage statistics", [
                    Flag("all", "a", BOOL, help="Show all containers (default shows just "
                         "running)"),
                    Flag("no-stream", "", BOOL, help="Disable streaming stats and only pull "
                         "the first result"),
                    Flag("no-trunc", "", BOOL, help="Do not truncate output"),
                    Flag("format", "", STRING, help="Format output using a custom template"),
                ])


def cmd_stats(ctx: Context, argv: list[str]) -> int:
    import time

    from cove.cli.tables import ListFormat
    from cove.cli.views import StatsRow

    opts, names = STATS.parse(argv)
    listing = ListFormat(opts.str("format"), StatsRow.DEFAULT, StatsRow.HEADERS,
                         StatsRow("", {}))
    explicit = bool(names)
    stream = not opts.bool("no_stream")
    first = True
    while True:
        targets = names
        if not explicit:
            running = ctx.client.get_json("/containers/json",
                                          {"all": opts.bool("all") or None}) or []
            targets = [str(c.get("Id", "")) for c in running]
        rows = []
        failed = False
        for name in targets:
            try:
                sample = ctx.client.get_json(_path(name, "/stats"), {"stream": False})
            except CliError as e:
                if explicit:
                    ctx.err(f"{e}\n")
                    failed = True
                continue
            rows.append(StatsRow(name, sample or {}))
        if failed:
            return 1  # docker shows no table when a named container is missing
        text = listing.render(rows)
        if stream and ctx.stdout.isatty():
            ctx.out("\x1b[2J\x1b[H" if first else "\x1b[H\x1b[J")
        ctx.out(text)
        ctx.stdout.flush()
        first = False
        if not stream:
            return 0
        time.sleep(1.0)
