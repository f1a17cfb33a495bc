"""Table layout (Go tabwriter semantics) and docker's listing rows."""

from __future__ import annotations

from cove.cli.tables import normalize_format, render, tabwrite
from cove.cli.views import (
    ContainerRow,
    HistoryRow,
    ImageRow,
    StatsRow,
    ellipsis,
    format_ports,
    image_rows,
)

NOW = 1_700_000_000.0

CONTAINER = {
    "Id": "4f1c9b2a7d3e8f0011223344556677889900aabbccddeeff0011223344556677",
    "Names": ["/web", "/other/alias"], "Image": "busybox:latest",
    "ImageID": "sha256:" + "a" * 64, "Command": "sh -c 'while true; do sleep 1; done'",
    "Created": NOW - 300, "State": "running", "Status": "Up 5 minutes",
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
              {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
    "Labels": {"b": "2", "a": "1"}, "Mounts": [{"Name": "averyveryverylongvolumename",
                                                 "Driver": "local"}],
    "NetworkSettings": {"Networks": {"bridge": {}, "backend": {}}},
    "SizeRw": 12000, "SizeRootFs": 4_260_000,
}


def test_tabwriter_matches_docker_ps_header() -> None:
    out = tabwrite("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n")
    assert out == "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"


def test_tabwriter_widths_follow_longest_cell() -> None:
    out = tabwrite("a\tb\tc\nlonger cell here\tx\ty\n")
    assert out.splitlines() == ["a" + " " * 18 + "b         c",
                                "longer cell here   x         y"]


def test_tabwriter_column_blocks() -> None:
    # the second column of line 1 ends the block: line 3 starts a new one
    out = tabwrite("aaaaaaaaaaaaaaa\tb\n\nc\td\n")
    assert out.splitlines() == ["aaaaaaaaaaaaaaa   b", "", "c         d"]


def test_container_row_fields() -> None:
    row = ContainerRow(CONTAINER, now=NOW)
    assert row.ID == "4f1c9b2a7d3e"
    assert row.Command == '"sh -c \'while true; \u2026"'
    assert row.RunningFor == "5 minutes ago"
    assert row.Names == "web"
    assert row.Ports == "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
    assert row.Labels == "a=1,b=2"
    assert row.Label("a") == "1"
    assert row.Mounts == "averyveryveryl\u2026"
    assert row.Networks == "backend,bridge"
    assert row.LocalVolumes == "1"
    assert row.Size == "12kB (virtual 4.26MB)"
    untrunc = ContainerRow(CONTAINER, trunc=False, now=NOW)
    full_id = untrunc.ID
    assert full_id == CONTAINER["Id"]
    assert untrunc.Names == "web,other/alias"


def test_default_ps_table() -> None:
    out = render([ContainerRow(CONTAINER, now=NOW)], "", ContainerRow.DEFAULT,
                 ContainerRow.HEADERS)
    header, line = out.splitlines()
    assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                              "PORTS", "NAMES"]
    assert line.startswith("4f1c9b2a7d3e   busybox:latest   ")
    assert line.endswith("   web")
    assert header.index("IMAGE") == line.index("busybox")


def test_custom_table_and_plain_formats() -> None:
    rows = [ContainerRow(CONTAINER, now=NOW)]
    out = render(rows, "table {{.ID}}\\t{{.Names}}", "", ContainerRow.HEADERS)
    assert out == "CONTAINER ID   NAMES\n4f1c9b2a7d3e   web\n"
    assert render(rows, "{{.Names}}: {{.State}}", "", {}) == "web: running\n"
    json_line = render(rows, "json", "", {})
    assert json_line.startswith('{"Command":') and '"Names":"web"' in json_line
    assert render(rows, "{{json .}}", "", {}) == json_line
    # the row marshals itself with Go's HTML escaping; a plain value does not
    odd = ContainerRow(dict(CONTAINER, Names=["/a<b>&c"]), now=NOW)
    assert '"Names":"a\\u003cb\\u003e\\u0026c"' in render([odd], "json", "", {})
    assert render([odd], "{{json .Names}}", "", {}) == '"a<b>&c"\n'


def test_empty_table_still_has_header() -> None:
    assert render([], "", ContainerRow.DEFAULT, ContainerRow.HEADERS).startswith(
        "CONTAINER ID   IMAGE")
    assert render([], "{{.ID}}", "", {}) == ""


def test_normalize_format() -> None:
    assert normalize_format("table", "table {{.A}}") == (True, "{{.A}}")
    assert normalize_format("json", "x") == (False, "{{json .}}")
    assert normalize_format("{{.A}}\\t{{.B}}", "x") == (False, "{{.A}}\t{{.B}}")


def test_ports_ranges() -> None:
    ports = [{"IP": "0.0.0.0", "PrivatePort": p, "PublicPort": p + 8000, "Type": "tcp"}
             for p in (80, 81, 82)] + [{"PrivatePort": 53, "Type": "udp"}]
    assert format_ports(ports) == "0.0.0.0:8080-8082->80-82/tcp, 53/udp"


def test_image_rows() -> None:
    image = {"Id": "sha256:" + "b" * 64, "RepoTags": ["busybox:latest", "reg:5000/x/y:1"],
             "RepoDigests": ["busybox@sha256:" + "c" * 64], "Created": NOW - 7200,
             "Size": 4_260_000}
    assert image_rows(image, True) == [("busybox", "latest", "sha256:" + "c" * 64),
                                       ("reg:5000/x/y", "1", "<none>")]
    # without --digests the digest column is <none>, as in docker
    assert image_rows(image, False) == [("busybox", "latest", "<none>"),
                                        ("reg:5000/x/y", "1", "<none>")]
    digest_only = {"RepoTags": ["a:1"], "RepoDigests": ["a@sha256:1", "b@sha256:2",
                                                        "b@sha256:3"]}
    assert image_rows(digest_only, True) == [("a", "1", "sha256:1"), ("b", "<none>", "sha256:2"),
                                             ("b", "<none>", "sha256:3")]
    assert image_rows(digest_only, False) == [("a", "1", "<none>"), ("b", "<none>", "<none>")]
    dangling = {"Id": "sha256:" + "d" * 64, "RepoTags": ["<none>:<none>"], "RepoDigests": []}
    assert image_rows(dangling, False) == [("<none>", "<none>", "<none>")]
    row = ImageRow(image, "busybox", "latest", "", now=NOW)
    assert (row.ID, row.CreatedSince, row.Size) == ("bbbbbbbbbbbb", "2 hours ago", "4.26MB")
    out = render([row], "", ImageRow.DEFAULT, ImageRow.HEADERS)
    assert out.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED",
                                           "SIZE"]


def test_history_row() -> None:
    layer = {"Id": "<missing>", "Created": NOW - 60, "CreatedBy": "/bin/sh -c #(nop) " + "x" * 60,
             "Size": 1234, "Comment": ""}
    row = HistoryRow(layer, now=NOW)
    assert row.ID == "<missing>" and row.Size == "1.23kB" and len(row.CreatedBy) == 45
    assert HistoryRow(layer, human=False).Size == "1234"


def test_stats_row() -> None:
    sample = {"id": "f" * 64, "name": "/web",
              "cpu_stats": {"cpu_usage": {"total_usage": 400}, "system_cpu_usage": 2000,
                            "online_cpus": 2},
              "precpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 1000},
              "memory_stats": {"usage": 3 * 1024 * 1024, "limit": 100 * 1024 * 1024,
                               "stats": {"inactive_file": 1024 * 1024}},
              "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 0}},
              "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 2000},
                                                             {"op": "write", "value": 0}]},
              "pids_stats": {"current": 3}}
    row = StatsRow("web", sample)
    assert row.CPUPerc == "40.00%"
    assert row.MemUsage == "2MiB / 100MiB" and row.MemPerc == "2.00%"
    assert row.NetIO == "1.5kB / 0B" and row.BlockIO == "2kB / 0B" and row.PIDs == "3"
    assert row.Name == "web"


def test_ellipsis() -> None:
    assert ellipsis("abcdef", 4) == "abc\u2026"
    assert ellipsis("abc", 4) == "abc"
