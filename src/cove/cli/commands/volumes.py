"""Volume verbs: volume create, ls, inspect, rm (prune lives with the other prunes)."""

from __future__ import annotations

from cove.cli.commands import check_filter, filters_json, for_each
from cove.cli.errors import CliError, UsageError
from cove.cli.flags import BOOL, LIST, STRING, Flag, FlagSet
from cove.cli.transport import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cove.cli.context import Context


def _key_value(text: str) -> str:
    if "=" not in text:
        raise ValueError(f"invalid key/value pair format: {text}")
    return text


def _pairs(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _label(text: str) -> str:
    return text  # "k" alone is a label with an empty value, as docker's


CREATE = FlagSet("cove volume create", "[OPTIONS] [VOLUME]", "Create a volume", [
    Flag("driver", "d", STRING, default="local", help="Specify volume driver name"),
    Flag("label", "l", LIST, help="Set metadata for a volume", convert=_label),
    Flag("name", "", STRING, help="Specify volume name"),
    Flag("opt", "o", LIST, help="Set driver specific options", convert=_key_value),
], max_args=1)


def cmd_volume_create(ctx: Context, argv: list[str]) -> int:
    opts, args = CREATE.parse(argv)
    name = opts.str("name")
    if args and name and args[0] != name:
        raise CliError("conflicting options: cannot specify a volume-name through both "
                       "--name and as a positional arg")  # docker: exit 1, no usage
    name = args[0] if args else name
    body: dict[str, Any] = {"Name": name, "Driver": opts.str("driver"),
                            "DriverOpts": _pairs(opts.list("opt")),
                            "Labels": _pairs(opts.list("label"))}
    volume = ctx.client.post_json("/volumes/create", None, body) or {}
    ctx.out(f"{volume.get('Name', '')}\n")
    return 0


class VolumeRow:
    HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
               "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
               "Size": "SIZE", "CreatedAt": "CREATED AT", "Availability": "AVAILABILITY",
               "Group": "GROUP", "Status": "STATUS"}
    DEFAULT = "table {{.Driver}}\t{{.Name}}"

    def __init__(self, volume: dict[str, Any]) -> None:
        self._v = volume
        self.Name = str(volume.get("Name", ""))
        self.Driver = str(volume.get("Driver", ""))
        self.Scope = str(volume.get("Scope", ""))
        self.Mountpoint = str(volume.get("Mountpoint", ""))
        self.CreatedAt = str(volume.get("CreatedAt", ""))
        self.Availability = "N/A"
        self.Group = "N/A"
        self.Status = "N/A"

    @property
    def Labels(self) -> str:  # noqa: N802 (docker's template field)
        labels = self._v.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def Label(self, key: str) -> str:  # noqa: N802 (docker's template field)
        return str((self._v.get("Labels") or {}).get(key, ""))

    @property
    def Links(self) -> str:  # noqa: N802 (docker's template field)
        usage = self._v.get("UsageData") or {}
        return str(usage["RefCount"]) if "RefCount" in usage else "N/A"

    @property
    def Size(self) -> str:  # noqa: N802 (docker's template field)
        usage = self._v.get("UsageData") or {}
        if usage.get("Size", -1) < 0:
            return "N/A"
        from cove.cli.units import human_size
        return str(human_size(usage["Size"]))


LS = FlagSet("cove volume ls", "[OPTIONS]", "List volumes", [
    Flag("filter", "f", LIST, help="Provide filter values (e.g. \"dangling=true\")",
         convert=check_filter),
    Flag("format", "", STRING, help="Format output using a custom template"),
    Flag("quiet", "q", BOOL, help="Only display volume names"),
], max_args=0)


def cmd_volume_ls(ctx: Context, argv: list[str]) -> int:
    opts, _ = LS.parse(argv)
    try:
        filters_text = filters_json(list(opts.list("filter")))
    except ValueError as e:
        raise UsageError(str(e), LS.command) from None
    from cove.cli.tables import ListFormat

    listing = None if opts.bool("quiet") else ListFormat(
        opts.str("format"), VolumeRow.DEFAULT, VolumeRow.HEADERS, VolumeRow({}))
    answer = ctx.client.get_json("/volumes", {"filters": filters_text}) or {}
    volumes = sorted(answer.get("Volumes") or [], key=lambda v: str(v.get("Name", "")))
    if listing is None:
        for v in volumes:
            ctx.out(f"{v.get('Name', '')}\n")
        return 0
    ctx.out(listing.render(VolumeRow(v) for v in volumes))
    return 0


INSPECT = FlagSet("cove volume inspect", "[OPTIONS] VOLUME [VOLUME...]",
                  "Display detailed information on one or more volumes", [
                      Flag("format", "f", STRING,
                           help="Format output using a custom template"),
                  ], min_args=1)


def cmd_volume_inspect(ctx: Context, argv: list[str]) -> int:
    opts, names = INSPECT.parse(argv)
    fmt = opts.str("format")
    template = None
    if fmt and fmt != "json":
        from cove.cli.tables import parse_template
        template = parse_template(fmt)
    found: list[Any] = []

    def inspect(name: str) -> str | None:
        doc = ctx.client.get_json(f"/volumes/{quote(name, safe='')}")
        found.append(doc)
        return None if template is None else str(template.execute(doc))

    code = for_each(ctx, names, inspect)
    import json
    if template is not None:
        if not found:
            ctx.out("\n")
    elif fmt == "json":
        ctx.out(json.dumps(found, separators=(",", ":")) + "\n")
    else:
        ctx.out(json.dumps(found, indent=4, ensure_ascii=False) + "\n")
    return code


RM = FlagSet("cove volume rm", "[OPTIONS] VOLUME [VOLUME...]",
             "Remove one or more volumes. You cannot remove a volume that is in use by a "
             "container.", [
                 Flag("force", "f", BOOL, help="Force the removal of one or more volumes"),
             ], min_args=1)


def cmd_volume_rm(ctx: Context, argv: list[str]) -> int:
    opts, names = RM.parse(argv)

    def remove(name: str) -> str:
        ctx.client.call("DELETE", f"/volumes/{quote(name, safe='')}",
                        {"force": opts.bool("force") or None})
        return name

    return for_each(ctx, names, remove)
