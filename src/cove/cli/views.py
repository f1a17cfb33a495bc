# ruff: noqa: N802  (attribute names are the template field names docker documents)
"""Row objects that ``--format`` templates see, one class per listing.

Their attribute names are docker's (``{{.ID}}``, ``{{.RunningFor}}``...), and
so are the values: short IDs, quoted and shortened commands, ages like
"5 minutes ago". ``to_json`` is what ``{{json .}}`` prints.
"""

from __future__ import annotations

import time

from cove.cli import units
from cove.cli.gotemplate import go_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ELLIPSIS = "\u2026"


def ellipsis(text: str, width: int) -> str:
    """Shorten to ``width`` characters, the last one an ellipsis (docker's Ellipsis)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[:width - 1] + ELLIPSIS


def short_id(ident: str, trunc: bool = True) -> str:
    ident = ident.removeprefix("sha256:") if trunc else ident
    return ident[:12] if trunc else ident


def go_time(ts: float) -> str:
    """Go's ``time.Time.String()`` in local time: ``2024-01-02 15:04:05 +0000 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(ts))


def rfc3339(ts: float) -> str:
    """Go's time.RFC3339 in local time: ``2024-01-02T15:04:05Z`` or ``...+01:00``."""
    local = time.localtime(ts)
    offset = time.strftime("%z", local)
    zone = "Z" if offset in ("+0000", "-0000", "") else f"{offset[:3]}:{offset[3:]}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + zone


def since(ts: float, now: float | None = None) -> str:
    current = time.time() if now is None else now
    return units.human_duration(current - ts) + " ago"


def format_ports(ports: list[dict[str, Any]] | None) -> str:
    """docker ps's PORTS: ``0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 53/udp``.

    Consecutive ports with the same address, protocol and offset collapse into
    ranges (``8000-8001->80-81/tcp``).
    """
    if not ports:
        return ""
    groups: list[list[Any]] = []  # [ip, type, public_lo, private_lo, count]
    keyed = sorted(ports, key=lambda p: (str(p.get("Type", "")), str(p.get("IP", "")),
                                         int(p.get("PrivatePort", 0) or 0),
                                         int(p.get("PublicPort", 0) or 0)))
    for p in keyed:
        ip, kind = str(p.get("IP", "") or ""), str(p.get("Type", "tcp") or "tcp")
        private, public = int(p.get("PrivatePort", 0) or 0), int(p.get("PublicPort", 0) or 0)
        if groups:
            g = groups[-1]
            if (g[0] == ip and g[1] == kind and private == g[3] + g[4]
                    and ((public == 0 and g[2] == 0) or (g[2] and public == g[2] + g[4]))):
                g[4] += 1
                continue
        groups.append([ip, kind, public, private, 1])
    out = []
    for ip, kind, public, private, count in groups:
        priv = str(private) if count == 1 else f"{private}-{private + count - 1}"
        if public:
            pub = str(public) if count == 1 else f"{public}-{public + count - 1}"
            host = f"[{ip}]" if ":" in ip else ip
            out.append(f"{host}:{pub}->{priv}/{kind}")
        else:
            out.append(f"{priv}/{kind}")
    return ", ".join(out)


class ContainerRow:
    """One ``docker ps`` row from a ContainerSummary."""

    HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
               "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
               "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES",
               "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS",
               "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
               "Platform": "PLATFORM"}
    DEFAULT = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
               "{{.Ports}}\t{{.Names}}")

    def __init__(self, c: dict[str, Any], trunc: bool = True, now: float | None = None) -> None:
        self._c = c
        self._trunc = trunc
        self._now = now

    @property
    def ID(self) -> str:
        return short_id(str(self._c.get("Id", "")), self._trunc)

    @property
    def Image(self) -> str:
        image = str(self._c.get("Image", "") or "<no image>")
        if self._trunc and image.startswith("sha256:"):
            return short_id(image)
        return image

    @property
    def Command(self) -> str:
        command = str(self._c.get("Command", "") or "")
        if self._trunc:
            command = ellipsis(command, 20)
        return go_quote(command)

    @property
    def CreatedAt(self) -> str:
        return go_time(float(self._c.get("Created", 0) or 0))

    @property
    def RunningFor(self) -> str:
        return since(float(self._c.get("Created", 0) or 0), self._now)

    @property
    def Ports(self) -> str:
        return format_ports(self._c.get("Ports"))

    @property
    def State(self) -> str:
        return str(self._c.get("State", "") or "")

    @property
    def Status(self) -> str:
        return str(self._c.get("Status", "") or "")

    @property
    def Size(self) -> str:
        rw = self._c.get("SizeRw")
        root = self._c.get("SizeRootFs")
        text = units.human_size(float(rw or 0))
        if root:
            text += f" (virtual {units.human_size(float(root))})"
        return text

    @property
    def Names(self) -> str:
        names = []
        for raw in self._c.get("Names") or []:
            name = str(raw).removeprefix("/")
            # "/other/alias" names are links, shown only untruncated
            if self._trunc and "/" in name:
                continue
            names.append(name)
        return ",".join(names)

    @property
    def Labels(self) -> str:
        labels = self._c.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def Label(self, name: str) -> str:
        return str((self._c.get("Labels") or {}).get(name, ""))

    @property
    def Mounts(self) -> str:
        names = []
        for m in self._c.get("Mounts") or []:
            name = str(m.get("Name") or m.get("Source") or "")
            names.append(ellipsis(name, 15) if self._trunc else name)
        return ",".join(names)

    @property
    def Networks(self) -> str:
        nets = ((self._c.get("NetworkSettings") or {}).get("Networks")) or {}
        return ",".join(sorted(nets))

    @property
    def LocalVolumes(self) -> str:
        mounts = self._c.get("Mounts") or []
        return str(sum(1 for m in mounts if m.get("Driver") == "local"))

    @property
    def Platform(self) -> Any:
        # a ContainerSummary of API 1.47 has no platform: docker prints null
        return self._c.get("ImageManifestDescriptor", {}).get("platform") if isinstance(
            self._c.get("ImageManifestDescriptor"), dict) else None

    def to_json(self) -> dict[str, Any]:
        keys = ("Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts",
                "Names", "Networks", "Platform", "Ports", "RunningFor", "Size", "State",
                "Status")
        return {k: getattr(self, k) for k in keys}


def _split_tag(ref: str) -> tuple[str, str]:
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return (ref[:colon], ref[colon + 1:]) if colon > slash else (ref, "<none>")


def image_rows(image: dict[str, Any], digests: bool) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows of one ImageSummary, as ``docker images`` splits them.

    One row per tag (per tag and digest with --digests); a repository known only
    by digest gets a row of its own; an image with neither is <none> <none>.
    """
    tags: dict[str, list[str]] = {}
    for ref in image.get("RepoTags") or []:
        if ref != "<none>:<none>":
            repo, tag = _split_tag(ref)
            tags.setdefault(repo, []).append(tag)
    by_repo: dict[str, list[str]] = {}
    for ref in image.get("RepoDigests") or []:
        if ref != "<none>@<none>":
            repo, _, dig = ref.partition("@")
            by_repo.setdefault(repo, []).append(dig)
    rows: list[tuple[str, str, str]] = []
    for repo, repo_tags in tags.items():
        repo_digests = by_repo.pop(repo, []) if digests else []
        by_repo.pop(repo, None)
        for tag in repo_tags:
            rows.extend((repo, tag, d) for d in repo_digests or ["<none>"])
    for repo, repo_digests in by_repo.items():
        rows.extend((repo, "<none>", d) for d in (repo_digests if digests else ["<none>"]))
    return rows or [("<none>", "<none>", "<none>")]


class ImageRow:
    HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG",
               "Digest": "DIGEST", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
               "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
               "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
    DEFAULT = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}")
    DEFAULT_DIGESTS = ("table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                       "{{.CreatedSince}}\t{{.Size}}")

    def __init__(self, image: dict[str, Any], repo: str, tag: str, digest: str,
                 trunc: bool = True, now: float | None = None) -> None:
        self._i = image
        self.Repository = repo
        self.Tag = tag
        self.Digest = digest
        self._trunc = trunc
        self._now = now

    @property
    def ID(self) -> str:
        return short_id(str(self._i.get("Id", "")), self._trunc)

    @property
    def CreatedSince(self) -> str:
        return since(float(self._i.get("Created", 0) or 0), self._now)

    @property
    def CreatedAt(self) -> str:
        return go_time(float(self._i.get("Created", 0) or 0))

    @property
    def Size(self) -> str:
        return units.human_size(float(self._i.get("Size", 0) or 0))

    @property
    def VirtualSize(self) -> str:
        return units.human_size(float(self._i.get("Size", 0) or 0), 4)

    @property
    def SharedSize(self) -> str:
        shared = self._i.get("SharedSize", -1)
        return "N/A" if shared is None or shared < 0 else units.human_size(float(shared))

    @property
    def UniqueSize(self) -> str:
        shared = self._i.get("SharedSize", -1)
        if shared is None or shared < 0:
            return "N/A"
        return units.human_size(float((self._i.get("Size", 0) or 0) - shared))

    @property
    def Containers(self) -> str:
        count = self._i.get("Containers", -1)
        return "N/A" if count is None or count < 0 else str(count)

    def to_json(self) -> dict[str, str]:
        keys = ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
                "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize")
        return {k: getattr(self, k) for k in keys}


class HistoryRow:
    HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
               "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
    DEFAULT = ("table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}")
    DEFAULT_EXACT = ("table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}")

    def __init__(self, layer: dict[str, Any], trunc: bool = True, human: bool = True,
                 now: float | None = None) -> None:
        self._l = layer
        self._trunc = trunc
        self._human = human
        self._now = now

    @property
    def ID(self) -> str:
        ident = str(self._l.get("Id", "") or "")
        if not ident or ident == "<missing>":
            return "<missing>"
        return short_id(ident, self._trunc)

    @property
    def CreatedSince(self) -> str:
        created = float(self._l.get("Created", 0) or 0)
        if not self._human:
            return self.CreatedAt
        return since(created, self._now)

    @property
    def CreatedAt(self) -> str:
        return rfc3339(float(self._l.get("Created", 0) or 0))

    @property
    def CreatedBy(self) -> str:
        text = str(self._l.get("CreatedBy", "") or "").replace("\t", " ")
        return ellipsis(text, 45) if self._trunc else text

    @property
    def Size(self) -> str:
        size = int(self._l.get("Size", 0) or 0)
        return units.human_size(float(size)) if self._human else str(size)

    @property
    def Comment(self) -> str:
        return str(self._l.get("Comment", "") or "")

    def to_json(self) -> dict[str, str]:
        keys = ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")
        return {k: getattr(self, k) for k in keys}


class StatsRow:
    """A ``docker stats`` row from one /containers/{id}/stats sample."""

    HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME",
               "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
               "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
    DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
               "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")

    def __init__(self, container: str, s: dict[str, Any]) -> None:
        self.Container = container
        self._s = s

    @property
    def ID(self) -> str:
        return short_id(str(self._s.get("id", "")))

    @property
    def Name(self) -> str:
        return str(self._s.get("name", "") or "").removeprefix("/") or "--"

    def _cpu(self) -> float:
        cpu = self._s.get("cpu_stats") or {}
        pre = self._s.get("precpu_stats") or {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage", 0) or 0
        pre_total = (pre.get("cpu_usage") or {}).get("total_usage", 0) or 0
        system = cpu.get("system_cpu_usage", 0) or 0
        pre_system = pre.get("system_cpu_usage", 0) or 0
        online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get(
            "percpu_usage") or []) or 1
        cpu_delta, system_delta = total - pre_total, system - pre_system
        if cpu_delta > 0 and system_delta > 0:
            return cpu_delta / system_delta * online * 100.0
        return 0.0

    @property
    def CPUPerc(self) -> str:
        return f"{self._cpu():.2f}%"

    def _mem(self) -> tuple[float, float]:
        mem = self._s.get("memory_stats") or {}
        usage = float(mem.get("usage", 0) or 0)
        stats = mem.get("stats") or {}
        # docker subtracts the page cache: total_inactive_file (v1), inactive_file (v2)
        for key in ("total_inactive_file", "inactive_file"):
            if key in stats and stats[key] < usage:
                usage -= float(stats[key])
                break
        return usage, float(mem.get("limit", 0) or 0)

    @property
    def MemUsage(self) -> str:
        usage, limit = self._mem()
        return f"{units.bytes_size(usage)} / {units.bytes_size(limit)}"

    @property
    def MemPerc(self) -> str:
        usage, limit = self._mem()
        return f"{usage / limit * 100.0 if limit else 0.0:.2f}%"

    @property
    def NetIO(self) -> str:
        rx = tx = 0.0
        for net in (self._s.get("networks") or {}).values():
            rx += float(net.get("rx_bytes", 0) or 0)
            tx += float(net.get("tx_bytes", 0) or 0)
        return f"{units.human_size(rx)} / {units.human_size(tx)}"

    @property
    def BlockIO(self) -> str:
        read = write = 0.0
        entries = (self._s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
        for e in entries:
            op = str(e.get("op", "")).lower()
            if op == "read":
                read += float(e.get("value", 0) or 0)
            elif op == "write":
                write += float(e.get("value", 0) or 0)
        return f"{units.human_size(read)} / {units.human_size(write)}"

    @property
    def PIDs(self) -> str:
        return str((self._s.get("pids_stats") or {}).get("current", 0) or 0)

    def to_json(self) -> dict[str, str]:
        keys = ("BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name",
                "NetIO", "PIDs")
        return {k: getattr(self, k) for k in keys}
