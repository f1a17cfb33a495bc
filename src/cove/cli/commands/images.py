"""Image verbs: images, pull, push, tag, rmi, history, save, load, import, image prune."""

from __future__ import annotations

from cove.cli.commands import check_filter, filters_json
from cove.cli.commands.containers import download, split_reference
from cove.cli.errors import CliError, UsageError
from cove.cli.flags import BOOL, LIST, STRING, Flag, FlagSet
from cove.cli.transport import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from cove.cli.context import Context
    from cove.cli.progress import ProgressRenderer
    from cove.cli.transport import Response


def check_reference(ref: str, allow_id: bool = False) -> None:
    """Refuse a malformed image reference before any request, with docker's words.

    ``allow_id``: an image id (64 hex, or sha256:<64 hex>) is fine too, as for run.
    """
    from cove.errors import InvalidArgument
    from cove.images.reference import parse_reference

    hex_part = ref.removeprefix("sha256:")
    if allow_id and len(hex_part) == 64 and all(c in "0123456789abcdef" for c in hex_part):
        return
    try:
        parse_reference(ref)
    except InvalidArgument as e:
        raise CliError(str(e)) from None


def _image_path(name: str, suffix: str = "") -> str:
    return f"/images/{quote(name, safe='/:@')}{suffix}"


IMAGES = FlagSet("cove images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", [
    Flag("all", "a", BOOL, help="Show all images (default hides intermediate images)"),
    Flag("digests", "", BOOL, help="Show digests"),
    Flag("filter", "f", LIST, help="Filter output based on conditions provided",
         convert=check_filter),
    Flag("format", "", STRING, help="Format output using a custom template"),
    Flag("no-trunc", "", BOOL, help="Don't truncate output"),
    Flag("quiet", "q", BOOL, help="Only show image IDs"),
], max_args=1)


def cmd_images(ctx: Context, argv: list[str]) -> int:
    opts, args = IMAGES.parse(argv)
    filters = list(opts.list("filter"))
    if args:
        filters.append(f"reference={args[0]}")
    try:
        filters_text = filters_json(filters)
    except ValueError as e:
        raise UsageError(str(e), IMAGES.command) from None
    from cove.cli.tables import ListFormat
    from cove.cli.views import ImageRow, image_rows, short_id

    default = ImageRow.DEFAULT_DIGESTS if opts.bool("digests") else ImageRow.DEFAULT
    listing = None if opts.bool("quiet") else ListFormat(
        opts.str("format"), default, ImageRow.HEADERS, ImageRow({}, "", "", ""),
        parse_error="template parsing error")  # docker's words differ per command
    images = ctx.client.get_json("/images/json", {
        "all": opts.bool("all") or None, "digests": opts.bool("digests") or None,
        "filters": filters_text}) or []
    trunc = not opts.bool("no_trunc")
    if listing is None:
        seen = set()
        for image in images:
            ident = short_id(str(image.get("Id", "")), trunc)
            if ident not in seen:
                seen.add(ident)
                ctx.out(ident + "\n")
        return 0
    ctx.out(listing.render(
        ImageRow(image, repo, tag, digest, trunc)
        for image in images for repo, tag, digest in image_rows(image, opts.bool("digests"))))
    return 0


# pull, push ----------------------------------------------------------------------------

def _renderer(out: TextIO) -> ProgressRenderer:
    import os

    from cove.cli.progress import ProgressRenderer

    try:
        is_tty = os.isatty(out.fileno())
    except (OSError, ValueError, AttributeError):
        is_tty = False
    width = 80
    if is_tty:
        try:
            width = os.get_terminal_size(out.fileno()).columns
        except OSError:
            pass
    return ProgressRenderer(out, is_tty, width)


def _show_stream(resp: Response, out: TextIO, quiet: bool) -> ProgressRenderer:
    renderer = _renderer(out)
    try:
        for msg in resp.json_stream():
            if not isinstance(msg, dict):
                continue
            if quiet:
                if msg.get("error") or msg.get("errorDetail"):
                    renderer.feed(msg)
                continue
            renderer.feed(msg)
    finally:
        resp.close()
    return renderer


def pull_image(ctx: Context, ref: str, platform: str | None, quiet: bool, out: TextIO,
               all_tags: bool = False) -> None:
    """POST /images/create?fromImage=..., showing progress on ``out``."""
    from cove.cli.commands.system import registry_auth_header

    repo, tag = split_reference(ref)
    if not tag and not all_tags:
        tag = "latest"
    if "@" in ref:
        repo, tag = ref.split("@", 1)
    resp = ctx.client.request("POST", "/images/create",
                              {"fromImage": repo, "tag": tag or None, "platform": platform},
                              headers={"X-Registry-Auth": registry_auth_header(ref)})
    _show_stream(resp, out, quiet)


PULL = FlagSet("cove pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", [
    Flag("all-tags", "a", BOOL, help="Download all tagged images in the repository"),
    Flag("quiet", "q", BOOL, help="Suppress verbose output"),
    Flag("platform", "", STRING, help="Set platform if server is multi-platform capable"),
    Flag("disable-content-trust", "", BOOL, default=True, help="Skip image verification"),
], min_args=1, max_args=1)


def _resolve_tag(ctx: Context, ref: str, all_tags: bool, quiet: bool) -> tuple[str, str]:
    """(repository, tag or digest) of a pull/push; no tag means latest, said unless -q."""
    check_reference(ref)
    repo, tag = split_reference(ref)
    if all_tags and tag:
        raise CliError("tag can't be used with --all-tags/-a")
    if not tag and not all_tags:
        if not quiet:
            ctx.out("Using default tag: latest\n")
        tag = "latest"
    return repo, tag


def cmd_pull(ctx: Context, argv: list[str]) -> int:
    opts, (ref,) = PULL.parse(argv)
    repo, tag = _resolve_tag(ctx, ref, opts.bool("all_tags"), opts.bool("quiet"))
    if tag and "@" not in ref:
        ref = f"{repo}:{tag}"
    pull_image(ctx, ref, opts.str("platform") or None, opts.bool("quiet"), ctx.stdout,
               opts.bool("all_tags"))
    ctx.out(ref + "\n")
    return 0


PUSH = FlagSet("cove push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", [
    Flag("all-tags", "a", BOOL, help="Push all tags of an image to the repository"),
    Flag("quiet", "q", BOOL, help="Suppress verbose output"),
    Flag("platform", "", STRING, help="Push a platform-specific manifest"),
    Flag("disable-content-trust", "", BOOL, default=True, help="Skip image signing"),
], min_args=1, max_args=1)


def cmd_push(ctx: Context, argv: list[str]) -> int:
    from cove.cli.commands.system import registry_auth_header

    opts, (ref,) = PUSH.parse(argv)
    repo, tag = _resolve_tag(ctx, ref, opts.bool("all_tags"), opts.bool("quiet"))
    query: dict[str, Any] = {"tag": tag or None, "platform": opts.str("platform") or None}
    resp = ctx.client.request("POST", _image_path(repo, "/push"), query,
                              headers={"X-Registry-Auth": registry_auth_header(ref)})
    _show_stream(resp, ctx.stdout, opts.bool("quiet"))
    if opts.bool("quiet"):
        ctx.out(f"{repo}:{tag}\n" if tag else f"{repo}\n")
    return 0


TAG = FlagSet("cove tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE "
              "that refers to SOURCE_IMAGE", [], min_args=2, max_args=2)


def cmd_tag(ctx: Context, argv: list[str]) -> int:
    _, (source, target) = TAG.parse(argv)
    try:
        check_reference(target)
    except CliError as e:
        raise CliError(f'Error parsing reference: "{target}" is not a valid repository/tag: '
                       f"{e.message}") from None
    repo, tag = split_reference(target)
    ctx.client.call("POST", _image_path(source, "/tag"), {"repo": repo, "tag": tag or None})
    return 0


RMI = FlagSet("cove rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", [
    Flag("force", "f", BOOL, help="Force removal of the image"),
    Flag("no-prune", "", BOOL, help="Do not delete untagged parents"),
], min_args=1)


def _deleted_lines(items: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in items or []:
        if item.get("Untagged"):
            lines.append(f"Untagged: {item['Untagged']}")
        if item.get("Deleted"):
            lines.append(f"Deleted: {item['Deleted']}")
    return lines


def cmd_rmi(ctx: Context, argv: list[str]) -> int:
    from cove.cli.commands import for_each

    opts, names = RMI.parse(argv)
    query = {"force": opts.bool("force") or None, "noprune": opts.bool("no_prune") or None}

    def remove(name: str) -> str | None:
        resp = ctx.client.request("DELETE", _image_path(name), query)
        items = resp.json() or []
        resp.close()
        lines = _deleted_lines(items)
        return "\n".join(lines) if lines else None

    return for_each(ctx, names, remove)


HISTORY = FlagSet("cove history", "[OPTIONS] IMAGE", "Show the history of an image", [
    Flag("human", "H", BOOL, default=True, help="Print sizes and dates in human readable "
         "format"),
    Flag("no-trunc", "", BOOL, help="Don't truncate output"),
    Flag("quiet", "q", BOOL, help="Only show image IDs"),
    Flag("format", "", STRING, help="Format output using a custom template"),
    Flag("platform", "", STRING, help="Show history for the given platform"),
], min_args=1, max_args=1)


def cmd_history(ctx: Context, argv: list[str]) -> int:
    opts, (name,) = HISTORY.parse(argv)
    from cove.cli.tables import ListFormat
    from cove.cli.views import HistoryRow

    default = HistoryRow.DEFAULT if opts.bool("human") else HistoryRow.DEFAULT_EXACT
    listing = ListFormat(opts.str("format"), default, HistoryRow.HEADERS,
                         HistoryRow({}), parse_error="template parsing error")
    layers = ctx.client.get_json(_image_path(name, "/history"),
                                 {"platform": opts.str("platform") or None}) or []

    trunc = not opts.bool("no_trunc")
    rows = [HistoryRow(layer, trunc, opts.bool("human")) for layer in layers]
    if opts.bool("quiet"):
        for row in rows:
            ctx.out(row.ID + "\n")
        return 0
    ctx.out(listing.render(rows))
    return 0


# save, load, import --------------------------------------------------------------------

SAVE = FlagSet("cove save", "[OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar "
               "archive (streamed to STDOUT by default)", [
                   Flag("output", "o", STRING, help="Write to a file, instead of STDOUT"),
                   Flag("platform", "", STRING, help="Save only the given platform variant"),
               ], min_args=1)


def cmd_save(ctx: Context, argv: list[str]) -> int:
    opts, names = SAVE.parse(argv)
    download(ctx, "/images/get", {"names": names, "platform": opts.str("platform") or None},
             opts.str("output"))
    return 0


LOAD = FlagSet("cove load", "[OPTIONS]", "Load an image from a tar archive or STDIN", [
    Flag("input", "i", STRING, help="Read from tar archive file, instead of STDIN"),
    Flag("quiet", "q", BOOL, help="Suppress the load output"),
    Flag("platform", "", STRING, help="Load only the given platform variant"),
], max_args=0)


def _open_input(ctx: Context, path: str) -> Any:
    import os

    if not path:
        if os.isatty(0):
            raise CliError("requested load from stdin, but stdin is empty")
        return ctx.stdin
    try:
        return open(path, "rb")
    except OSError as e:
        raise CliError(f"open {path}: {(e.strerror or str(e)).lower()}") from None


def cmd_load(ctx: Context, argv: list[str]) -> int:
    opts, _ = LOAD.parse(argv)
    source = _open_input(ctx, opts.str("input"))
    try:
        resp = ctx.client.request("POST", "/images/load",
                                  {"quiet": opts.bool("quiet") or None,
                                   "platform": opts.str("platform") or None},
                                  body=source, headers={"Content-Type": "application/x-tar"})
    finally:
        if source is not ctx.stdin:
            source.close()
    if resp.headers.get("content-type", "").startswith("application/json"):
        _show_stream(resp, ctx.stdout, False)
    else:
        ctx.out(resp.read().decode("utf-8", "replace"))
        resp.close()
    return 0


IMPORT = FlagSet("cove import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "Import the contents "
                 "from a tarball to create a filesystem image", [
                     Flag("change", "c", LIST, help="Apply Dockerfile instruction to the "
                          "created image"),
                     Flag("message", "m", STRING, help="Set commit message for imported image"),
                     Flag("platform", "", STRING, help="Set platform if server is "
                          "multi-platform capable"),
                 ], min_args=1, max_args=2)


def cmd_import(ctx: Context, argv: list[str]) -> int:
    opts, args = IMPORT.parse(argv)
    source = args[0]
    repo, tag = split_reference(args[1]) if len(args) == 2 else ("", "")
    query: dict[str, Any] = {"repo": repo or None, "tag": tag or None,
                             "message": opts.str("message") or None,
                             "changes": opts.list("change") or None,
                             "platform": opts.str("platform") or None}
    body: Any = None
    if "://" in source:
        query["fromSrc"] = source
    else:
        query["fromSrc"] = "-"
        body = ctx.stdin if source == "-" else _open_input(ctx, source)
    try:
        resp = ctx.client.request("POST", "/images/create", query, body=body,
                                  headers={"Content-Type": "application/x-tar"})
    finally:
        if body is not None and body is not ctx.stdin:
            body.close()
    renderer = _renderer(ctx.stdout)
    renderer.tty = False
    try:
        for msg in resp.json_stream():
            if isinstance(msg, dict) and (msg.get("error") or msg.get("errorDetail")):
                renderer.feed(msg)
            elif isinstance(msg, dict) and msg.get("status") and not msg.get("id") \
                    and not msg.get("progressDetail"):
                ctx.out(f"{msg['status']}\n")
    finally:
        resp.close()
    return 0
