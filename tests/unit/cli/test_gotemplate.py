"""The Go template subset: docker's documented --format examples and Go's semantics."""

from __future__ import annotations

import pytest

from cove.cli.gotemplate import Template, TemplateError, sprintf


def run(src: str, data: object) -> str:
    return Template(src).execute(data)


INSPECT = {
    "Id": "abc123", "Name": "/web",
    "Config": {"Env": ["PATH=/usr/bin", "A=1"], "Labels": {"b": "2", "a": "1"},
               "Cmd": None, "Tty": False, "ExposedPorts": {"80/tcp": {}}},
    "State": {"Pid": 4242, "Running": True, "ExitCode": 0, "Status": "running"},
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2",
                                                "MacAddress": "02:42:ac:11:00:02"}},
                        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}},
    "LogPath": "/var/log/x.log", "SizeRw": 1.0, "Mounts": [],
}


@pytest.mark.parametrize(("src", "out"), [
    # docker inspect documentation examples
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "172.17.0.2"),
    ("{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}", "02:42:ac:11:00:02"),
    ("{{.LogPath}}", "/var/log/x.log"),
    ("{{json .Config}}", '{"Env":["PATH=/usr/bin","A=1"],"Labels":{"b":"2","a":"1"},'
                         '"Cmd":null,"Tty":false,"ExposedPorts":{"80/tcp":{}}}'),
    ("{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> "
     "{{(index $conf 0).HostPort}} {{end}}", " 80/tcp -> 8080 "),
    ("{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}", "8080"),
    # printing as Go's %v
    ("{{.State.Pid}}", "4242"), ("{{.State.Running}}", "true"), ("{{.Config.Env}}",
                                                                  "[PATH=/usr/bin A=1]"),
    ("{{.Config.Labels}}", "map[a:1 b:2]"), ("{{.Config.Cmd}}", "<nil>"),
    ("{{.Nope}}", "<no value>"), ("{{.SizeRw}}", "1"), ("{{.Mounts}}", "[]"),
    # docker's functions
    ("{{join .Config.Env \",\"}}", "PATH=/usr/bin,A=1"), ("{{upper .Name}}", "/WEB"),
    ("{{lower \"ABC\"}}", "abc"), ("{{title \"hello wide-world\"}}", "Hello Wide-World"),
    ("{{split \"a:b:c\" \":\"}}", "[a b c]"), ("{{truncate .Id 3}}", "abc"),
    ("{{truncate \"ab\" 5}}", "ab"), ("{{pad \"x\" 2 1}}", "  x "),
    ("{{println \"a\" 1}}", "a 1\n"), ("{{.Name | upper}}", "/WEB"),
    ("{{index .Config.Labels \"a\"}}", "1"), ("{{len .Config.Env}}", "2"),
    ("{{json .Config.Env}}", '["PATH=/usr/bin","A=1"]'),
    ("{{json \"caf\u00e9 <&>\"}}", '"caf\u00e9 <&>"'),
    # control structures
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if eq .State.Status \"exited\"}}x{{else if eq .State.Status \"running\"}}r"
     "{{else}}?{{end}}", "r"),
    ("{{if not .Config.Tty}}no tty{{end}}", "no tty"),
    ("{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}", "ok"),
    ("{{if or .Config.Tty .Config.Cmd}}y{{else}}n{{end}}", "n"),
    ("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=PATH=/usr/bin;1=A=1;"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}{{$v}} {{end}}", "a1 b2 "),
    ("{{range .Mounts}}m{{else}}none{{end}}", "none"),
    ("{{with .State}}{{.Pid}}{{end}}", "4242"),
    ("{{with .Nope}}x{{else}}empty{{end}}", "empty"),
    ("{{$n := .Name}}{{$n}}", "/web"),
    ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
    ("{{range .Config.Env}}{{$.Name}} {{end}}", "/web /web "),
    ("a  {{- \" b \" -}}  c", "a b c"),
    ("{{/* a comment */}}x", "x"),
    ("{{`raw \\n`}}", "raw \\n"),
    ("{{printf \"%s-%05d-%q\" .Name 42 \"q\"}}", '/web-00042-"q"'),
    ("{{printf \"%.2f%%\" 12.345}}", "12.35%"),
    ("{{if gt .State.Pid 100}}big{{end}}", "big"),
    ("{{if ne .Name \"/db\"}}not db{{end}}", "not db"),
    ("{{index .Config.Env 1}}", "A=1"),
    ("{{slice .Id 1 3}}", "bc"),
    ("{{print 1 2 \"a\" \"b\"}}", "1 2ab"),
    ("{{range 3}}{{.}}{{end}}", "012"),
])
def test_templates(src: str, out: str) -> None:
    assert run(src, INSPECT) == out


class Row:
    ID = "abc"

    def Label(self, name: str) -> str:  # noqa: N802 - a template method name
        return f"label:{name}"


def test_methods_with_arguments() -> None:
    assert run('{{.ID}} {{.Label "com.example.x"}}', Row()) == "abc label:com.example.x"


@pytest.mark.parametrize(("src", "message"), [
    ("{{.Foo", "unclosed action"), ("{{bogus .}}", 'function "bogus" not defined'),
    ("{{if .X}}x", "unexpected EOF"), ("{{end}}", "unexpected"),
    ('{{"abc}}', "unclosed action"), ("{{ `abc }}", "unclosed action"),
    ("{{(.X}}", "unclosed left paren"),
])
def test_parse_errors(src: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Template(src)


@pytest.mark.parametrize(("src", "message"), [
    ("{{.Missing.Deeper}}", "nil pointer evaluating"),
    ("{{.Nope}}", "can't evaluate field Nope"),
    ("{{index .ID 10}}", "index out of range"),
    ("{{$undefined}}", "undefined variable"),
])
def test_execution_errors(src: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        run(src, {"Missing": None} if "Missing" in src else Row())


def test_sprintf_edge_cases() -> None:
    assert sprintf("%d items", 3) == "3 items"
    assert sprintf("%v %v", [1, 2], {"a": True}) == "[1 2] map[a:true]"
    assert sprintf("%s") == "%!s(MISSING)"
    assert sprintf("%-5s|", "ab") == "ab   |"


class PsRow:
    """Stands in for docker's ps row in its documented --format examples."""

    ID = "a87ecb4f327c"
    Command = '"/bin/sh"'
    Names = "web"
    Labels = "com.docker.swarm.node=ubuntu,com.docker.swarm.storage=ssd"
    Status = "Up 2 hours"


@pytest.mark.parametrize(("src", "out"), [
    ("{{.ID}}: {{.Command}}", 'a87ecb4f327c: "/bin/sh"'),
    ("{{.ID}}\t{{.Labels}}", "a87ecb4f327c\tcom.docker.swarm.node=ubuntu,"
                             "com.docker.swarm.storage=ssd"),
    ("{{range $l := split .Labels \",\"}}{{println $l}}{{end}}",
     "com.docker.swarm.node=ubuntu\ncom.docker.swarm.storage=ssd\n"),
    ("{{.Names | printf \"%-10s|\"}}", "web       |"),
    ("{{if eq .Status \"Up 2 hours\"}}{{.Names}} is up{{end}}", "web is up"),
    ("{{lower .Names | upper}}", "WEB"),
    ("{{with $x := .Names}}{{$x}}{{end}}", "web"),
])
def test_docker_ps_format_examples(src: str, out: str) -> None:
    assert run(src, PsRow()) == out
