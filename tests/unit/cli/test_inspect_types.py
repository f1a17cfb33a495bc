"""Inspect templates print JSON nulls and nested objects as docker's typed structs do."""

from __future__ import annotations

import pytest

from cove.cli.gotemplate import Template
from cove.cli.inspect_types import typed

DOC = {
    "Id": "abc", "Args": [],
    "State": {"Status": "exited", "Running": False, "Paused": False, "Restarting": False,
              "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 3, "Error": "",
              "StartedAt": "2024-01-01T00:00:00Z", "FinishedAt": "2024-01-01T00:00:01Z",
              "Extra": "not in docker's struct"},
    "Config": {"Entrypoint": None, "Cmd": ["sh"], "Volumes": None, "OnBuild": None,
               "Labels": {"Entrypoint": "a label, not a field", "x": None}},
    "HostConfig": {"Binds": None, "Tmpfs": None, "RestartPolicy": {"Name": "no",
                                                                   "MaximumRetryCount": 0},
                   "LogConfig": {"Type": "json-file", "Config": None}},
}


@pytest.mark.parametrize(("src", "out"), [
    ("{{.Config.Entrypoint}}", "[]"), ("{{json .Config.Entrypoint}}", "null"),
    ("{{len .Config.Entrypoint}}", "0"), ("{{range .Config.Entrypoint}}x{{else}}none{{end}}",
                                          "none"),
    ("{{if .Config.Entrypoint}}y{{else}}n{{end}}", "n"),
    ("{{.Config.Volumes}}", "map[]"), ("{{.HostConfig.Binds}} {{.HostConfig.Tmpfs}}",
                                       "[] map[]"),
    ("{{.HostConfig.RestartPolicy}}", "{no 0}"), ("{{.HostConfig.LogConfig}}",
                                                  "{json-file map[]}"),
    ("{{json .HostConfig.RestartPolicy}}", '{"Name":"no","MaximumRetryCount":0}'),
    ("{{.Config.Healthcheck}} {{.State.Health}}", "<nil> <nil>"),
    ("{{.State}}", "{exited false false false false false 0 3  2024-01-01T00:00:00Z "
                   "2024-01-01T00:00:01Z <nil>}"),
    ("{{.Config.Labels}}", "map[Entrypoint:a label, not a field x:<nil>]"),
    ("{{.Config.Cmd}} {{.Args}}", "[sh] []"),
])
def test_typed_printing(src: str, out: str) -> None:
    assert Template(src).execute(typed(DOC)) == out


def test_json_of_the_whole_document_is_unchanged() -> None:
    import copy
    import json

    text = Template("{{json .}}").execute(typed(DOC))
    expected = copy.deepcopy(DOC)
    # the absent pointers become explicit nulls, as Go marshals them
    expected["Config"]["Healthcheck"] = None  # type: ignore[index]
    expected["State"]["Health"] = None  # type: ignore[index]
    # and so do the struct fields a daemon left out (Go's struct has them all)
    from cove.cli.inspect_types import ABSENT_AS_NIL
    for (_, struct), fields in ABSENT_AS_NIL.items():
        for field in fields:
            expected[struct].setdefault(field, None)  # type: ignore[union-attr]
    assert json.loads(text) == expected
