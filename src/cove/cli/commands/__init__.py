"""One module per family of verbs; ``cmd_*(Context, argv)`` returns the exit code."""

from __future__ import annotations

from cove.cli.errors import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from cove.cli.context import Context


def for_each(ctx: Context, names: list[str], action: Callable[[str], str | None]) -> int:
    """Run ``action`` per name, printing what it returns; errors go to stderr, exit 1 at end.

    docker carries on past a failing container and reports every failure.
    """
    failed = False
    for name in names:
        try:
            shown = action(name)
        except CliError as e:  # str() of a DaemonError is "Error response from daemon: ..."
            ctx.err(f"{e}\n")
            failed = True
            continue
        if shown is not None:
            ctx.out(f"{shown}\n")
    return 1 if failed else 0


def filters_json(items: list[str]) -> str | None:
    """``--filter k=v`` values → the API's JSON ``map[string][]string``."""
    if not items:
        return None
    from cove import fastjson

    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"bad format of filter (expected name=value): {item}")
        out.setdefault(key.strip().lower(), []).append(value)
    return fastjson.dumps(out)


def check_filter(text: str) -> str:
    """Flag converter: a filter must be name=value."""
    if "=" not in text:
        raise ValueError(f"bad format of filter (expected name=value): {text}")
    return text


def confirm(ctx: Context, message: str) -> bool:
    import sys

    ctx.err(f"{message} [y/N] ")
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
