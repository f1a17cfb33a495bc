"""container/image/volume/network/builder prune and system prune, as docker prints them.

Each asks docker's question unless ``-f`` (the answer is read from stdin, tty or not, as
docker does) and takes ``--filter`` and Cove's ``--dry-run`` (the daemon lists what would
go and the space it would free, and changes nothing).
"""

from __future__ import annotations

import sys

from cove.cli.commands import check_filter, filters_json
from cove.cli.flags import BOOL, LIST, Flag, FlagSet
from cove.cli.units import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cove.cli.context import Context

_CONFIRM = "Are you sure you want to continue?"


def _flags(verb: str, what: str, all_help: str | None = None) -> FlagSet:
    flags = [
        Flag("force", "f", BOOL, help="Do not prompt for confirmation"),
        Flag("filter", "", LIST, help='Provide filter values (e.g. "until=<timestamp>")',
             convert=check_filter),
        Flag("dry-run", "", BOOL, help="Show what would be removed and the space it would "
             "free, and remove nothing"),
    ]
    if all_help:
        flags.insert(0, Flag("all", "a", BOOL, help=all_help))
    return FlagSet(f"cove {verb}", "[OPTIONS]", what, flags, max_args=0)


CONTAINER = _flags("container prune", "Remove all stopped containers")
IMAGE = _flags("image prune", "Remove unused images",
               "Remove all unused images, not just dangling ones")
VOLUME = _flags("volume prune", "Remove unused local volumes",
                "Remove all unused volumes, not just anonymous ones")
NETWORK = _flags("network prune", "Remove unused networks")
BUILDER = _flags("builder prune", "Remove build cache",
                 "Remove all unused build cache, not just dangling ones")
SYSTEM = FlagSet("cove system prune", "[OPTIONS]", "Remove unused data", [
    Flag("all", "a", BOOL, help="Remove all unused images not just dangling ones"),
    Flag("force", "f", BOOL, help="Do not prompt for confirmation"),
    Flag("filter", "", LIST, help='Provide filter values (e.g. "label=<key>=<value>")',
         convert=check_filter),
    Flag("volumes", "", BOOL, help="Prune anonymous volumes"),
    Flag("dry-run", "", BOOL, help="Show what would be removed and the space it would "
         "free, and remove nothing"),
], max_args=0)


def _confirm(ctx: Context, message: str) -> bool:
    # docker prints the question on stdout and reads the answer from stdin.
    ctx.out(f"{message} [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _query(filters: list[str], dry_run: bool) -> dict[str, Any]:
    query: dict[str, Any] = {"filters": filters_json(filters)}
    if dry_run:
        query["dry_run"] = "1"
    return query


def _total(ctx: Context, reclaimed: int, dry_run: bool) -> None:
    label = "Total reclaimable space" if dry_run else "Total reclaimed space"
    ctx.out(f"{label}: {human_size(float(reclaimed), 4)}\n")


def _section(ctx: Context, title: str, lines: list[str], dry_run: bool) -> None:
    if lines:
        ctx.out(f"{'Would delete' if dry_run else 'Deleted'} {title}:\n")
        for line in lines:
            ctx.out(f"{line}\n")
        ctx.out("\n")


# -- one kind each --------------------------------------------------------------------------


def _containers(ctx: Context, filters: list[str], dry_run: bool) -> int:
    doc = ctx.client.post_json("/containers/prune", _query(filters, dry_run)) or {}
    _section(ctx, "Containers", list(doc.get("ContainersDeleted") or []), dry_run)
    return int(doc.get("SpaceReclaimed") or 0)


def _images(ctx: Context, filters: list[str], every: bool, dry_run: bool) -> int:
    wanted = [*filters, "dangling=false" if every else "dangling=true"]
    doc = ctx.client.post_json("/images/prune", _query(wanted, dry_run)) or {}
    lines = []
    for item in doc.get("ImagesDeleted") or []:
        if item.get("Untagged"):
            lines.append(f"untagged: {item['Untagged']}")
        if item.get("Deleted"):
            lines.append(f"deleted: {item['Deleted']}")
    _section(ctx, "Images", lines, dry_run)
    return int(doc.get("SpaceReclaimed") or 0)


def _volumes(ctx: Context, filters: list[str], every: bool, dry_run: bool) -> int:
    wanted = [*filters, "all=true"] if every else filters
    doc = ctx.client.post_json("/volumes/prune", _query(wanted, dry_run)) or {}
    _section(ctx, "Volumes", list(doc.get("VolumesDeleted") or []), dry_run)
    return int(doc.get("SpaceReclaimed") or 0)


def _networks(ctx: Context, filters: list[str], dry_run: bool) -> None:
    doc = ctx.client.post_json("/networks/prune", _query(filters, dry_run)) or {}
    _section(ctx, "Networks", list(doc.get("NetworksDeleted") or []), dry_run)


def _build_cache(ctx: Context, filters: list[str], every: bool, dry_run: bool) -> int:
    query = _query(filters, dry_run)
    if every:
        query["all"] = "1"
    doc = ctx.client.post_json("/build/prune", query) or {}
    _section(ctx, "build cache objects", list(doc.get("CachesDeleted") or []), dry_run)
    return int(doc.get("SpaceReclaimed") or 0)


# -- verbs ----------------------------------------------------------------------------------


def cmd_container_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = CONTAINER.parse(argv)
    dry = opts.bool("dry_run")
    if not (opts.bool("force") or dry) and not _confirm(
            ctx, f"WARNING! This will remove all stopped containers.\n{_CONFIRM}"):
        return 0
    _total(ctx, _containers(ctx, list(opts.list("filter")), dry), dry)
    return 0


def cmd_image_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = IMAGE.parse(argv)
    every, dry = opts.bool("all"), opts.bool("dry_run")
    warning = ("WARNING! This will remove all images without at least one container "
               "associated to them." if every else
               "WARNING! This will remove all dangling images.")
    if not (opts.bool("force") or dry) and not _confirm(ctx, f"{warning}\n{_CONFIRM}"):
        return 0
    _total(ctx, _images(ctx, list(opts.list("filter")), every, dry), dry)
    return 0


def cmd_volume_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = VOLUME.parse(argv)
    every, dry = opts.bool("all"), opts.bool("dry_run")
    warning = ("WARNING! This will remove all local volumes not used by at least one "
               "container." if every else "WARNING! This will remove anonymous local "
               "volumes not used by at least one container.")
    if not (opts.bool("force") or dry) and not _confirm(ctx, f"{warning}\n{_CONFIRM}"):
        return 0
    _total(ctx, _volumes(ctx, list(opts.list("filter")), every, dry), dry)
    return 0


def cmd_network_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = NETWORK.parse(argv)
    dry = opts.bool("dry_run")
    if not (opts.bool("force") or dry) and not _confirm(
            ctx, "WARNING! This will remove all custom networks not used by at least one "
            f"container.\n{_CONFIRM}"):
        return 0
    _networks(ctx, list(opts.list("filter")), dry)
    return 0


def cmd_builder_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = BUILDER.parse(argv)
    every, dry = opts.bool("all"), opts.bool("dry_run")
    warning = ("WARNING! This will remove all build cache." if every else
               "WARNING! This will remove all dangling build cache.")
    if not (opts.bool("force") or dry) and not _confirm(ctx, f"{warning} {_CONFIRM}"):
        return 0
    _total(ctx, _build_cache(ctx, list(opts.list("filter")), every, dry), dry)
    return 0


def cmd_system_prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = SYSTEM.parse(argv)
    every, dry, volumes = opts.bool("all"), opts.bool("dry_run"), opts.bool("volumes")
    filters = list(opts.list("filter"))
    if not (opts.bool("force") or dry):
        items = ["all stopped containers", "all networks not used by at least one container"]
        if volumes:
            items.append("all anonymous volumes not used by at least one container")
        items.append("all images without at least one container associated to them"
                     if every else "all dangling images")
        items.append("all build cache" if every else "unused build cache")
        listed = "".join(f"  - {item}\n" for item in items)
        if not _confirm(ctx, f"WARNING! This will remove:\n{listed}\n{_CONFIRM}"):
            return 0
    # Containers first: what they used is unused after, as in docker.
    total = _containers(ctx, filters, dry)
    _networks(ctx, filters, dry)
    if volumes:
        # docker's system prune takes anonymous volumes only, -a or not.
        total += _volumes(ctx, filters, False, dry)
    total += _images(ctx, filters, every, dry)
    total += _build_cache(ctx, filters, every, dry)
    _total(ctx, total, dry)
    return 0
