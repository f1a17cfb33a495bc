"""``--format`` handling and docker's table layout.

A format is ``table``/empty (the command's default table), ``json`` (one JSON
object per line), ``table <template>`` (a header row, then the rows, aligned
by a tabwriter), or a bare template (one rendered line per row, unaligned).
Literal ``\\t`` and ``\\n`` in a format are a tab and a newline, as in docker.
"""

from __future__ import annotations

from cove.cli.errors import CliError
from cove.cli.gotemplate import Template, TemplateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-terminated cells like Go's text/tabwriter (docker: 10, 1, 3, ' ', 0).

    Cells are terminated by a tab; a line's trailing text is not a cell. A
    column's width is set per block of consecutive lines that have that column.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    trailing_newline = text.endswith("\n")
    if trailing_newline:
        lines.pop()
    out: list[str] = []
    widths: list[int] = []

    def write(line0: int, line1: int) -> None:
        for cells in lines[line0:line1]:
            parts = []
            for j, cell in enumerate(cells):
                if j < len(cells) - 1 and j < len(widths):
                    parts.append(cell + " " * (widths[j] - len(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(lines))
    result = "\n".join(out)
    return result + "\n" if trailing_newline else result


class _HeaderContext:
    """Stands in for a row when the table's header line is rendered."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def __getattr__(self, name: str) -> Any:
        header = self._headers.get(name, name.upper())
        return lambda *args: header

    def Label(self, key: str) -> str:  # noqa: N802 (docker's template field)
        """docker's header for ``{{.Label "a.b-c"}}``: "b c".

        The key's last dotted part, its dashes and underscores made spaces, case kept.
        """
        return key.split(".")[-1].replace("-", " ").replace("_", " ")


def normalize_format(fmt: str, default_table: str) -> tuple[bool, str]:
    """(is a table, template text) for a --format value."""
    if fmt in ("", "table"):
        fmt = default_table
    elif fmt == "json":
        return False, "{{json .}}"
    fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")
    if fmt.startswith("table"):
        return True, fmt[5:].lstrip(" ")
    return False, fmt


class ListFormat:
    """A listing's --format, parsed and tried on an empty row before any request.

    docker refuses a bad format before it talks to the daemon, also when there
    would be no rows to show; its messages are kept.
    """

    def __init__(self, fmt: str, default_table: str, headers: Mapping[str, str],
                 probe: Any = None, parse_error: str = "failed to parse template") -> None:
        self.table, text = normalize_format(fmt, default_table)
        self.headers = headers
        try:
            self.template = Template(text)
        except TemplateError as e:
            raise CliError(f"{parse_error}: {e.message}") from None
        if probe is not None:
            self._execute(probe)

    def _execute(self, row: Any) -> str:
        try:
            return self.template.execute(row)
        except TemplateError as e:
            raise CliError(f"failed to execute template: {e.message}") from None

    def render(self, rows: Iterable[Any]) -> str:
        lines = []
        if self.table:
            lines.append(self._execute(_HeaderContext(self.headers)))
        lines.extend(self._execute(row) for row in rows)
        if not lines:
            return ""
        body = "\n".join(lines) + "\n"
        return tabwrite(body) if self.table else body


def render(rows: Iterable[Any], fmt: str, default_table: str,
           headers: Mapping[str, str]) -> str:
    """All rows through the format, with a header and alignment for tables."""
    return ListFormat(fmt, default_table, headers).render(rows)


def parse_template(fmt: str, error: str = "template parsing error") -> Template:
    """A single-object --format (inspect, version, info, events): exit 64 if it does not
    parse, in docker's words."""
    try:
        return Template(fmt)
    except TemplateError as e:
        raise CliError(f"{error}: {e.message}", 64) from None
