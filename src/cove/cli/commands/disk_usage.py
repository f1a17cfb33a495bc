"""system df [-v]: docker's summary table (TYPE TOTAL ACTIVE SIZE RECLAIMABLE) and the
verbose per-object sections, from GET /system/df."""

from __future__ import annotations

import time

from cove.cli.flags import BOOL, Flag, FlagSet
from cove.cli.tables import tabwrite
from cove.cli.units import human_size
from cove.cli.views import ellipsis, image_rows, short_id, since

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cove.cli.context import Context

DF = FlagSet("cove system df", "[OPTIONS]", "Show docker disk usage", [
    Flag("verbose", "v", BOOL, help="Show detailed information on space usage"),
], max_args=0)

_ACTIVE_STATES = ("running", "paused", "restarting")


def _size(n: float) -> str:
    return human_size(float(n), 4)  # docker's units.HumanSize


def _reclaimable(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return _size(reclaimable)


def summary_rows(doc: dict[str, Any]) -> list[tuple[str, int, int, str, str]]:
    """(type, total, active, size, reclaimable) as docker's disk usage formatter counts."""
    images = doc.get("Images") or []
    layers = int(doc.get("LayersSize") or 0)
    used = sum(int(i.get("Size") or 0) - int(i.get("SharedSize") or 0)
               for i in images if i.get("Containers") and i.get("SharedSize", -1) != -1)
    containers = doc.get("Containers") or []
    c_total = sum(int(c.get("SizeRw") or 0) for c in containers)
    c_active = [c for c in containers if any(s in str(c.get("State")) for s in _ACTIVE_STATES)]
    c_used = sum(int(c.get("SizeRw") or 0) for c in c_active)
    volumes = doc.get("Volumes") or []

    def usage(v: dict[str, Any]) -> dict[str, Any]:
        return v.get("UsageData") or {}

    v_total = sum(int(usage(v).get("Size", 0)) for v in volumes
                  if int(usage(v).get("Size", -1)) != -1)
    v_free = sum(int(usage(v).get("Size", 0)) for v in volumes
                 if int(usage(v).get("RefCount", 0)) == 0 and int(usage(v).get("Size", -1)) != -1)
    cache = doc.get("BuildCache") or []
    cache_size = sum(int(b.get("Size") or 0) for b in cache)
    return [
        ("Images", len(images), sum(1 for i in images if i.get("Containers")),
         _size(layers), _reclaimable(layers - used, layers)),
        ("Containers", len(containers), len(c_active), _size(c_total),
         _reclaimable(c_total - c_used, c_total)),
        ("Local Volumes", len(volumes),
         sum(1 for v in volumes if int(usage(v).get("RefCount", 0)) > 0),
         _size(v_total), _reclaimable(v_free, v_total)),
        ("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")),
         _size(cache_size), _size(0)),
    ]


def _verbose(doc: dict[str, Any], now: float) -> str:
    lines = ["Images space usage:\n\n",
             "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n"]
    for image in doc.get("Images") or []:
        size, shared = int(image.get("Size") or 0), int(image.get("SharedSize") or 0)
        for repo, tag, _digest in image_rows(image, False):
            lines.append(f"{repo}\t{tag}\t{short_id(str(image['Id']))}\t"
                         f"{since(float(image.get('Created') or 0), now)}\t"
                         f"{human_size(float(size), 3)}\t{_size(shared)}\t"
                         f"{_size(size - shared)}\t{image.get('Containers', 0)}\n")
    out = tabwrite("".join(lines))
    lines = ["CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n"]
    for c in doc.get("Containers") or []:
        volumes = sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")
        command = ellipsis(str(c.get("Command") or ""), 20)
        names = ",".join(n.lstrip("/") for n in c.get("Names") or [])
        lines.append(f"{short_id(str(c['Id']))}\t{c.get('Image', '')}\t\"{command}\"\t"
                     f"{volumes}\t{human_size(float(c.get('SizeRw') or 0), 3)}\t"
                     f"{since(float(c.get('Created') or 0), now)}\t{c.get('Status', '')}\t"
                     f"{names}\n")
    out += "\nContainers space usage:\n\n" + tabwrite("".join(lines))
    lines = ["VOLUME NAME\tLINKS\tSIZE\n"]
    for v in doc.get("Volumes") or []:
        data = v.get("UsageData") or {}
        size = int(data.get("Size", -1))
        lines.append(f"{v['Name']}\t{data.get('RefCount', 0)}\t"
                     f"{_size(size) if size != -1 else 'N/A'}\n")
    out += "\nLocal Volumes space usage:\n\n" + tabwrite("".join(lines))
    cache = doc.get("BuildCache") or []
    out += f"\nBuild cache usage: {_size(sum(int(b.get('Size') or 0) for b in cache))}\n\n"
    out += tabwrite("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n")
    return out


def cmd_system_df(ctx: Context, argv: list[str]) -> int:
    opts, _ = DF.parse(argv)
    doc = ctx.client.get_json("/system/df") or {}
    if opts.bool("verbose"):
        ctx.out(_verbose(doc, time.time()))
        return 0
    text = "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\n" + "".join(
        f"{t}\t{total}\t{active}\t{size}\t{rec}\n"
        for t, total, active, size, rec in summary_rows(doc))
    ctx.out(tabwrite(text))
    return 0
