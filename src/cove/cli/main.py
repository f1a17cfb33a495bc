"""``cove``: global options, then the verb's module, loaded only when it is used."""

from __future__ import annotations

import os
import sys

from cove.cli.errors import CliError, StatusExit, UsageError
from cove.cli.flags import HelpRequested

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from cove.cli.context import Context

    Command = Callable[[Context, list[str]], int]

VERSION = "0.1.0"

# verb -> (module under cove.cli.commands, function)
COMMANDS: dict[str, tuple[str, str]] = {
    "create": ("run", "cmd_create"), "run": ("run", "cmd_run"),
    "start": ("run", "cmd_start"), "attach": ("run", "cmd_attach"),
    "exec": ("run", "cmd_exec"),
    "stop": ("containers", "cmd_stop"), "restart": ("containers", "cmd_restart"),
    "kill": ("containers", "cmd_kill"), "rm": ("containers", "cmd_rm"),
    "ps": ("containers", "cmd_ps"), "logs": ("containers", "cmd_logs"),
    "wait": ("containers", "cmd_wait"), "top": ("containers", "cmd_top"),
    "rename": ("containers", "cmd_rename"), "pause": ("containers", "cmd_pause"),
    "unpause": ("containers", "cmd_unpause"), "update": ("containers", "cmd_update"),
    "port": ("containers", "cmd_port"), "diff": ("containers", "cmd_diff"),
    "commit": ("containers", "cmd_commit"), "export": ("containers", "cmd_export"),
    "stats": ("containers", "cmd_stats"), "cp": ("copy", "cmd_cp"),
    "inspect": ("system", "cmd_inspect"), "events": ("system", "cmd_events"),
    "version": ("system", "cmd_version"), "info": ("system", "cmd_info"),
    "login": ("system", "cmd_login"), "logout": ("system", "cmd_logout"),
    "images": ("images", "cmd_images"), "pull": ("images", "cmd_pull"),
    "push": ("images", "cmd_push"), "tag": ("images", "cmd_tag"),
    "rmi": ("images", "cmd_rmi"), "history": ("images", "cmd_history"),
    "save": ("images", "cmd_save"), "load": ("images", "cmd_load"),
    "import": ("images", "cmd_import"),
}

# "cove container ls" and friends
GROUPS: dict[str, dict[str, tuple[str, str]]] = {
    "container": {
        **{v: COMMANDS[v] for v in ("create", "run", "start", "attach", "exec", "stop",
                                   "restart", "kill", "rm", "logs", "wait", "top", "rename",
                                   "pause", "unpause", "update", "port", "diff", "commit",
                                   "export", "stats", "cp")},
        "ls": COMMANDS["ps"], "ps": COMMANDS["ps"], "list": COMMANDS["ps"],
        "remove": COMMANDS["rm"], "inspect": ("system", "cmd_container_inspect"),
    },
    "image": {
        "ls": COMMANDS["images"], "list": COMMANDS["images"], "pull": COMMANDS["pull"],
        "push": COMMANDS["push"], "tag": COMMANDS["tag"], "rm": COMMANDS["rmi"],
        "remove": COMMANDS["rmi"], "history": COMMANDS["history"], "save": COMMANDS["save"],
        "load": COMMANDS["load"], "import": COMMANDS["import"],
        "inspect": ("system", "cmd_image_inspect"), "prune": ("prune", "cmd_image_prune"),
    },
    "system": {"info": COMMANDS["info"], "events": COMMANDS["events"]},
    "volume": {
        "create": ("volumes", "cmd_volume_create"), "ls": ("volumes", "cmd_volume_ls"),
        "list": ("volumes", "cmd_volume_ls"), "inspect": ("volumes", "cmd_volume_inspect"),
        "rm": ("volumes", "cmd_volume_rm"), "remove": ("volumes", "cmd_volume_rm"),
    },
    "network": {
        "create": ("networks", "cmd_network_create"), "ls": ("networks", "cmd_network_ls"),
        "list": ("networks", "cmd_network_ls"),
        "inspect": ("networks", "cmd_network_inspect"),
        "rm": ("networks", "cmd_network_rm"), "remove": ("networks", "cmd_network_rm"),
        "connect": ("networks", "cmd_network_connect"),
        "disconnect": ("networks", "cmd_network_disconnect"),
    },
}

# The prune verbs and system df: commands/prune.py and commands/disk_usage.py.
GROUPS["container"]["prune"] = ("prune", "cmd_container_prune")
GROUPS.setdefault("volume", {})["prune"] = ("prune", "cmd_volume_prune")
GROUPS.setdefault("network", {})["prune"] = ("prune", "cmd_network_prune")
GROUPS.setdefault("builder", {})["prune"] = ("prune", "cmd_builder_prune")
GROUPS["system"].update({"prune": ("prune", "cmd_system_prune"),
                         "df": ("disk_usage", "cmd_system_df")})

# "cove network" alone and friends: docker's group help, each verb with docker's
# one-line summary (the aliases - list, remove, container ps - are not listed)
GROUP_SUMMARIES: dict[str, tuple[str, dict[str, str]]] = {
    "builder": ("Manage builds", {"prune": "Remove build cache"}),
    "container": ("Manage containers", {
        "attach": "Attach local standard input, output, and error streams to a running "
                  "container",
        "commit": "Create a new image from a container's changes",
        "cp": "Copy files/folders between a container and the local filesystem",
        "create": "Create a new container",
        "diff": "Inspect changes to files or directories on a container's filesystem",
        "exec": "Execute a command in a running container",
        "export": "Export a container's filesystem as a tar archive",
        "inspect": "Display detailed information on one or more containers",
        "kill": "Kill one or more running containers",
        "logs": "Fetch the logs of a container",
        "ls": "List containers",
        "pause": "Pause all processes within one or more containers",
        "port": "List port mappings or a specific mapping for the container",
        "prune": "Remove all stopped containers",
        "rename": "Rename a container",
        "restart": "Restart one or more containers",
        "rm": "Remove one or more containers",
        "run": "Create and run a new container from an image",
        "start": "Start one or more stopped containers",
        "stats": "Display a live stream of container(s) resource usage statistics",
        "stop": "Stop one or more running containers",
        "top": "Display the running processes of a container",
        "unpause": "Unpause all processes within one or more containers",
        "update": "Update configuration of one or more containers",
        "wait": "Block until one or more containers stop, then print their exit codes",
    }),
    "image": ("Manage images", {
        "history": "Show the history of an image",
        "import": "Import the contents from a tarball to create a filesystem image",
        "inspect": "Display detailed information on one or more images",
        "load": "Load an image from a tar archive or STDIN",
        "ls": "List images",
        "prune": "Remove unused images",
        "pull": "Download an image from a registry",
        "push": "Upload an image to a registry",
        "rm": "Remove one or more images",
        "save": "Save one or more images to a tar archive (streamed to STDOUT by default)",
        "tag": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    }),
    "network": ("Manage networks", {
        "connect": "Connect a container to a network",
        "create": "Create a network",
        "disconnect": "Disconnect a container from a network",
        "inspect": "Display detailed information on one or more networks",
        "ls": "List networks",
        "prune": "Remove all unused networks",
        "rm": "Remove one or more networks",
    }),
    "system": ("Manage Cove", {
        "df": "Show cove disk usage",
        "events": "Get real time events from the server",
        "info": "Display system-wide information",
        "prune": "Remove unused data",
    }),
    "volume": ("Manage volumes", {
        "create": "Create a volume",
        "inspect": "Display detailed information on one or more volumes",
        "ls": "List volumes",
        "prune": "Remove unused local volumes",
        "rm": "Remove one or more volumes",
    }),
}

USAGE = """
Usage:  cove [OPTIONS] COMMAND

A client for the Docker Engine API (served by coved)

Options:
  -D, --debug              Enable debug mode
  -H, --host string        Daemon socket to connect to (default unix:///run/cove/cove.sock;
                           $COVE_HOST, $DOCKER_HOST)
  -l, --log-level string   Set the logging level ("debug", "info", "warn", "error")
  -v, --version            Print version information and quit

Management Commands:
  container   Manage containers
  image       Manage images
  network     Manage networks
  system      Manage Cove
  volume      Manage volumes

Commands:
  {commands}
"""


def group_help(group: str) -> str:
    """docker's help for a management command: usage, summary, verbs (cobra's layout)."""
    summary, verbs = GROUP_SUMMARIES[group]
    width = max(11, *(len(v) for v in verbs))  # cobra pads names to at least 11
    lines = "".join(f"  {verb.ljust(width)} {verbs[verb]}\n" for verb in sorted(verbs))
    return (f"Usage:  cove {group} COMMAND\n\n{summary}\n\nCommands:\n{lines}\n"
            f"Run 'cove {group} COMMAND --help' for more information on a command.\n")


def _group_without_verb(args: list[str]) -> int | None:
    """docker's answer when a group is not followed by one of its verbs; None when it is.

    The group alone prints its help on stderr and exits 0; --help prints it on
    stdout; a flag or word that is not a verb is a usage error.
    """
    group, rest = args[0], args[1:]
    verbs = GROUPS[group]
    if rest and rest[0] in verbs:
        return None
    if rest and rest[0] in ("--help", "-h") and len(rest) > 1 and rest[1] in verbs:
        args[1:] = [rest[1], "--help"]  # "cove network --help ls" is ls's help
        return None
    if "--help" in rest or "-h" in rest:
        sys.stdout.write(_help_after(rest[0], group))
        return 0
    if not rest or rest == ["--"]:
        sys.stderr.write(group_help(group))
        return 0
    first = rest[1] if rest[0] == "--" else rest[0]
    usage_tail = f"\nUsage:  cove {group}\n\nRun 'cove {group} --help' for more information\n"
    if rest[0] != "--" and first.startswith("-") and first != "-":
        if first.startswith("--"):
            message = f"unknown flag: {first.partition('=')[0]}"
        else:
            cluster = first[1:].lstrip("h")  # -h is the help flag; pflag reads on from there
            if not cluster:
                sys.stdout.write(_help_after(first, group))
                return 0
            message = f"unknown shorthand flag: '{cluster[0]}' in -{cluster}"
        sys.stderr.write(f"{message}\n{usage_tail}")
        return 125
    sys.stderr.write(f"cove: unknown command: cove {group} {first}\n{usage_tail}")
    return 1


def _help_after(flag: str, group: str) -> str:
    """The group's help, after docker's notice for each deprecated -h in ``flag``."""
    shorthands = flag[1:] if flag.startswith("-") and not flag.startswith("--") else ""
    count = len(shorthands) if set(shorthands) == {"h"} else 0
    return "Flag shorthand -h has been deprecated, use --help\n" * count + group_help(group)


def _resolve(args: list[str]) -> tuple[str, tuple[str, str] | None, list[str]]:
    verb = args[0]
    if verb in GROUPS:
        sub = args[1]
        return f"{verb} {sub}", GROUPS[verb].get(sub), args[2:]
    return verb, COMMANDS.get(verb), args[1:]


def _load(target: tuple[str, str]) -> Command:
    module_name, func = target
    module = __import__(f"cove.cli.commands.{module_name}", fromlist=[func])
    command: Command = getattr(module, func)
    return command


def _setup_logging(level: str) -> None:
    import logging

    numeric = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
               "warning": logging.WARNING, "error": logging.ERROR,
               "fatal": logging.CRITICAL}.get(level.lower())
    if numeric is None:
        raise UsageError(f'Unable to parse logging level: {level}', "cove")
    logging.basicConfig(level=numeric, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if numeric <= logging.DEBUG:
        from cove.cli import transport

        transport.DEBUG = True


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    host = os.environ.get("COVE_HOST") or os.environ.get("DOCKER_HOST") or ""
    log_level = ""
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        name, eq, value = opt.partition("=")
        if name in ("-H", "--host", "-l", "--log-level"):
            if not eq:
                if not args:
                    return _usage_error(f"flag needs an argument: {name}", "cove")
                value = args.pop(0)
            if name in ("-H", "--host"):
                host = value
            else:
                log_level = value
        elif name in ("-D", "--debug"):
            log_level = "debug"
        elif name in ("-v", "--version"):
            sys.stdout.write(f"Cove version {VERSION}, API version 1.47\n")
            return 0
        elif name in ("-h", "--help"):
            args = []
            break
        else:
            return _usage_error(f"unknown flag: {name}", "cove")
    if log_level:
        try:
            _setup_logging(log_level)
        except UsageError as e:
            return _usage_error(e.message, "cove")
    if not args or args[0] == "help":
        sys.stdout.write(USAGE.format(commands="\n  ".join(sorted(COMMANDS))))
        return 0
    if args[0] in GROUPS:
        code = _group_without_verb(args)
        if code is not None:
            return code
    from cove.cli.context import Context
    from cove.cli.transport import DEFAULT_HOST

    ctx = Context(host or DEFAULT_HOST)
    display, target, rest = _resolve(args)
    if target is None:
        ctx.err(f"cove: '{display}' is not a cove command.\nSee 'cove --help'\n")
        return 1
    try:
        return _load(target)(ctx, rest)
    except HelpRequested as e:
        text = e.args[0] if e.args else ""
        ctx.out(text)
        return 0
    except StatusExit as e:
        return e.code
    except UsageError as e:
        sys.stderr.write(e.render(e.command or f"cove {display}"))
        return e.exit_code
    except CliError as e:  # str() of a DaemonError is "Error response from daemon: ..."
        ctx.err(f"{e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (cove ps | head); nothing left to tell anyone.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep exit-time flush quiet
        except OSError:
            pass
        return 0


def _usage_error(message: str, command: str) -> int:
    sys.stderr.write(UsageError(message, command, "cove [OPTIONS] COMMAND").render(command))
    return 125
