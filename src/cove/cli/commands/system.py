"""inspect, events, version, info, login, logout."""

from __future__ import annotations

import sys

from cove.cli.commands import check_filter, filters_json
from cove.cli.errors import CliError, DaemonError, UsageError
from cove.cli.flags import BOOL, LIST, STRING, Flag, FlagSet
from cove.cli.tables import parse_template
from cove.cli.transport import API_VERSION, quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cove.cli.context import Context

CLIENT_VERSION = "0.1.0"


def _dump_indented(value: Any) -> str:
    """docker's inspect JSON: 4-space indent, UTF-8, no HTML escaping."""
    import json

    return json.dumps(value, indent=4, ensure_ascii=False)


def _inspect_one(ctx: Context, name: str, kind: str, size: bool = False,
                 daemon_errors: bool = False) -> Any:
    """The raw inspect document of ``name`` as ``kind`` ("" tries container then image).

    ``daemon_errors``: report the daemon's not-found (container/image inspect do).
    """
    kinds = [kind] if kind else ["container", "image"]
    for k in kinds:
        path = (f"/containers/{quote(name)}/json" if k == "container"
                else f"/images/{quote(name, safe='/:@')}/json")
        try:
            return ctx.client.get_json(path, {"size": True} if size and k == "container"
                                       else None)
        except DaemonError as e:
            if e.status != 404 or daemon_errors:
                raise
    if kind:
        raise CliError(f"Error: No such {kind}: {name}")
    raise CliError(f"Error: No such object: {name}")


def _inspect(ctx: Context, argv: list[str], command: str, kind: str) -> int:
    flags = [Flag("format", "f", STRING, help="Format output using a custom template"),
             Flag("size", "s", BOOL, help="Display total file sizes if the type is container")]
    if not kind:
        flags.append(Flag("type", "", STRING, help="Only inspect objects of the given type",
                          convert=_inspect_type))
    fs = FlagSet(command, "[OPTIONS] NAME|ID [NAME|ID...]",
                 "Return low-level information on Docker objects", flags, min_args=1)
    opts, names = fs.parse(argv)
    kind = kind or str(opts.values.get("type", ""))
    daemon_errors = bool(kind)  # with a type, docker passes the daemon's not-found on
    fmt = opts.str("format")
    template = None
    if fmt and fmt != "json":
        template = parse_template(fmt)
    found: list[Any] = []

    def inspect(name: str) -> str | None:
        doc = _inspect_one(ctx, name, kind, opts.bool("size"), daemon_errors)
        found.append(doc)
        if template is None:
            return None
        from cove.cli.inspect_types import typed

        return str(template.execute(typed(doc)))

    from cove.cli.commands import for_each

    code = for_each(ctx, names, inspect)
    if template is not None:
        if not found:
            ctx.out("\n")  # docker flushes an empty line when nothing matched
    elif fmt == "json":
        from cove.cli.gotemplate import to_json

        ctx.out(to_json(found) + "\n")  # one compact array, as docker 28
    else:
        ctx.out(_dump_indented(found) + "\n")
    return code


def _inspect_type(text: str) -> str:
    if text not in ("container", "image"):
        raise ValueError(f'"{text}" is not a valid value for --type')
    return text


def cmd_inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(ctx, argv, "cove inspect", "")


def cmd_container_inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(ctx, argv, "cove container inspect", "container")


def cmd_image_inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(ctx, argv, "cove image inspect", "image")


# events --------------------------------------------------------------------------------

def _timestamp(text: str) -> str:
    from cove.cli import units

    return units.parse_timestamp(text)


EVENTS = FlagSet("cove events", "[OPTIONS]", "Get real time events from the server", [
    Flag("filter", "f", LIST, help="Filter output based on conditions provided",
         convert=check_filter),
    Flag("since", "", STRING, help="Show all events created since timestamp",
         convert=_timestamp),
    Flag("until", "", STRING, help="Stream events until this timestamp", convert=_timestamp),
    Flag("format", "", STRING, help="Format output using a custom template"),
], max_args=0)


_EVENT_FIELDS = ("status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano")


def docker_event_order(event: dict[str, Any]) -> dict[str, Any]:
    """The event as docker re-marshals it: its struct's field order, attributes sorted."""
    ordered = {k: event[k] for k in _EVENT_FIELDS if k in event}
    ordered.update((k, v) for k, v in event.items() if k not in ordered)
    actor = ordered.get("Actor")
    if isinstance(actor, dict):
        attrs = actor.get("Attributes")
        ordered["Actor"] = {"ID": actor.get("ID", ""), **{
            k: v for k, v in actor.items() if k not in ("ID", "Attributes")}}
        if isinstance(attrs, dict):
            ordered["Actor"]["Attributes"] = {k: attrs[k] for k in sorted(attrs)}
    return ordered


def format_event(event: dict[str, Any]) -> str:
    """docker's default event line: time, type, action, actor id, (attributes)."""
    import time

    nano = int(event.get("timeNano") or int(event.get("time", 0) or 0) * 10**9)
    secs, frac = divmod(nano, 10**9)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(secs)) + f".{frac:09d}"
    offset = time.strftime("%z", time.localtime(secs))
    stamp += "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    actor = event.get("Actor") or {}
    line = f"{stamp} {event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    attrs = actor.get("Attributes") or {}
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def cmd_events(ctx: Context, argv: list[str]) -> int:
    opts, _ = EVENTS.parse(argv)
    try:
        filters = filters_json(opts.list("filter"))
    except ValueError as e:
        raise UsageError(str(e), EVENTS.command) from None
    fmt = opts.str("format")
    template = None
    if fmt:
        template = parse_template("{{json .}}" if fmt == "json" else fmt,
                                   "Error parsing format")
    query = {"since": opts.str("since") or None, "until": opts.str("until") or None,
             "filters": filters}
    resp = ctx.client.request("GET", "/events", query)
    try:
        for event in resp.json_stream():
            line = (template.execute(docker_event_order(event)) if template
                    else format_event(event))
            ctx.out(line + "\n")
            ctx.stdout.flush()
    finally:
        resp.close()
    return 0


# version, info -------------------------------------------------------------------------

VERSION = FlagSet("cove version", "[OPTIONS]", "Show the Cove version information", [
    Flag("format", "f", STRING, help="Format output using a custom template"),
], max_args=0)


def cmd_version(ctx: Context, argv: list[str]) -> int:
    import platform

    opts, _ = VERSION.parse(argv)
    client = {"Platform": {"Name": "Cove"}, "Version": CLIENT_VERSION,
              "ApiVersion": API_VERSION, "DefaultAPIVersion": API_VERSION,
              "GoVersion": f"python{platform.python_version()}", "GitCommit": "",
              "BuildTime": "", "Os": sys.platform, "Arch": _arch(platform.machine()),
              "Context": "default"}
    server: Any = None
    error: CliError | None = None
    try:
        server = ctx.client.get_json("/version")
    except CliError as e:
        error = e
    # templates name Go's fields (APIVersion); the JSON says ApiVersion
    client["APIVersion"] = client["ApiVersion"]
    if isinstance(server, dict) and "ApiVersion" in server:
        server["APIVersion"] = server["ApiVersion"]
    fmt = opts.str("format")
    if fmt:
        ctx.out(parse_template("{{json .}}" if fmt == "json" else fmt).execute(
            {"Client": client, "Server": server}) + "\n")
    else:
        lines = ["Client:", f" Version:           {client['Version']}",
                 f" API version:       {client['ApiVersion']}",
                 f" Go version:        {client['GoVersion']}",
                 f" OS/Arch:           {client['Os']}/{client['Arch']}",
                 f" Context:           {client['Context']}", ""]
        if isinstance(server, dict):
            name = ((server.get("Platform") or {}).get("Name")) or "Cove Engine"
            lines += [f"Server: {name}", " Engine:",
                      f"  Version:          {server.get('Version', '')}",
                      f"  API version:      {server.get('ApiVersion', '')} (minimum version "
                      f"{server.get('MinAPIVersion', '')})",
                      f"  Go version:       {server.get('GoVersion', '')}",
                      f"  Git commit:       {server.get('GitCommit', '')}",
                      f"  Built:            {server.get('BuildTime', '')}",
                      f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}",
                      f"  Experimental:     "
                      f"{str(bool(server.get('Experimental'))).lower()}"]
            for comp in server.get("Components") or []:
                if comp.get("Name") in ("Engine", name):
                    continue
                lines += [f" {comp.get('Name', '')}:",
                          f"  Version:          {comp.get('Version', '')}"]
        ctx.out("\n".join(lines) + "\n")
    if error is not None:
        raise error
    return 0


def _arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


INFO = FlagSet("cove info", "[OPTIONS]", "Display system-wide information", [
    Flag("format", "f", STRING, help="Format output using a custom template"),
], max_args=0)


def cmd_info(ctx: Context, argv: list[str]) -> int:
    opts, _ = INFO.parse(argv)
    info = ctx.client.get_json("/info") or {}
    fmt = opts.str("format")
    if fmt:
        ctx.out(parse_template("{{json .}}" if fmt == "json" else fmt).execute(info) + "\n")
        return 0
    g = info.get
    lines = ["Client:", f" Version:    {CLIENT_VERSION}", " Context:    default",
             " Debug Mode: false", "", "Server:",
             f" Containers: {g('Containers', 0)}", f"  Running: {g('ContainersRunning', 0)}",
             f"  Paused: {g('ContainersPaused', 0)}", f"  Stopped: {g('ContainersStopped', 0)}",
             f" Images: {g('Images', 0)}", f" Server Version: {g('ServerVersion', '')}",
             f" Storage Driver: {g('Driver', '')}",
             f" Logging Driver: {g('LoggingDriver', '')}",
             f" Cgroup Driver: {g('CgroupDriver', '')}",
             f" Cgroup Version: {g('CgroupVersion', '')}"]
    runtimes = g("Runtimes") or {}
    if runtimes:
        lines.append(f" Runtimes: {' '.join(sorted(runtimes))}")
    lines += [f" Default Runtime: {g('DefaultRuntime', '')}",
              f" Kernel Version: {g('KernelVersion', '')}",
              f" Operating System: {g('OperatingSystem', '')}",
              f" OSType: {g('OSType', '')}", f" Architecture: {g('Architecture', '')}",
              f" CPUs: {g('NCPU', 0)}"]
    from cove.cli.units import bytes_size

    lines += [f" Total Memory: {bytes_size(float(g('MemTotal', 0) or 0))}",
              f" Name: {g('Name', '')}", f" ID: {g('ID', '')}",
              f" Docker Root Dir: {g('DockerRootDir', '')}",
              f" Debug Mode: {str(bool(g('Debug'))).lower()}"]
    labels = g("Labels") or []
    if labels:
        lines.append(" Labels:")
        lines += [f"  {label}" for label in labels]
    ctx.out("\n".join(lines) + "\n")
    for warning in g("Warnings") or []:
        ctx.err(f"{warning}\n")
    return 0


# login, logout -------------------------------------------------------------------------

DEFAULT_REGISTRY = "https://index.docker.io/v1/"

LOGIN = FlagSet("cove login", "[OPTIONS] [SERVER]", "Authenticate to a registry", [
    Flag("username", "u", STRING, help="Username"),
    Flag("password", "p", STRING, help="Password"),
    Flag("password-stdin", "", BOOL, help="Take the password from stdin"),
], max_args=1)


def normalize_server(server: str) -> str:
    """The key docker stores a registry under: host[:port] (Docker Hub keeps its URL)."""
    if not server or server in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return DEFAULT_REGISTRY
    if server == DEFAULT_REGISTRY:
        return server
    for prefix in ("https://", "http://"):
        if server.startswith(prefix):
            server = server[len(prefix):]
    return server.split("/", 1)[0]


def _credential_store() -> Any:
    from cove.registry.auth import CredentialStore, default_config_path

    return CredentialStore(default_config_path())


def cmd_login(ctx: Context, argv: list[str]) -> int:
    opts, args = LOGIN.parse(argv)
    server = normalize_server(args[0] if args else "")
    user, password = opts.str("username"), opts.str("password")
    if opts.bool("password_stdin"):
        if password:
            raise UsageError("--password and --password-stdin are mutually exclusive",
                             LOGIN.command)
        if not user:
            raise UsageError("Must provide --username with --password-stdin", LOGIN.command)
        password = ctx.stdin.read().decode("utf-8").rstrip("\r\n")
    elif password:
        ctx.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if (not user or not password) and not sys.stdin.isatty():
        raise CliError("Error: Cannot perform an interactive login from a non TTY device")
    if not user:
        ctx.err("Username: ")
        user = sys.stdin.readline().strip()
    if not password:
        import getpass

        password = getpass.getpass("Password: ", stream=ctx.stderr)
    if not user:
        raise CliError("Error: Non-null Username Required")
    if not password:
        raise CliError("Error: Password Required")
    doc = ctx.client.post_json("/auth", body={"username": user, "password": password,
                                              "serveraddress": server}) or {}
    from cove.errors import CoveError

    store = _credential_store()
    try:
        store.store(server, user, password)
    except (OSError, CoveError) as e:
        raise CliError(f"Error saving credentials: {e}") from None
    ctx.out(f"{doc.get('Status') or 'Login Succeeded'}\n")
    return 0


LOGOUT = FlagSet("cove logout", "[SERVER]", "Log out from a registry", [], max_args=1)


def cmd_logout(ctx: Context, argv: list[str]) -> int:
    from cove.errors import CoveError, NotFound
    from cove.registry.login import logout

    _, args = LOGOUT.parse(argv)
    server = normalize_server(args[0] if args else "")
    try:
        logout(server, _credential_store())
    except NotFound:
        ctx.out(f"Not logged in to {server}\n")
        return 0
    except (OSError, CoveError) as e:
        raise CliError(f"Error removing credentials: {e}") from None
    ctx.out(f"Removing login credentials for {server}\n")
    return 0


def registry_auth_header(ref: str) -> str:
    """X-Registry-Auth for ``ref``: base64url JSON of the stored credentials (or {})."""
    import base64

    from cove import fastjson

    name = ref.split("/", 1)[0] if "/" in ref else ""
    if name and ("." in name or ":" in name or name == "localhost"):
        server = name
    else:
        server = DEFAULT_REGISTRY
    auth: dict[str, str] = {}
    from cove.errors import CoveError

    try:
        creds = _credential_store().get(server)
    except (OSError, CoveError):
        creds = None
    if creds is not None:
        auth = {"username": creds[0], "password": creds[1], "serveraddress": server}
    return base64.urlsafe_b64encode(fastjson.dumps(auth).encode()).decode("ascii")
