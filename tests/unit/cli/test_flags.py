"""Docker-style option parsing: the forms docker users type, and the usage errors."""

from __future__ import annotations

import pytest

from cove.cli import units
from cove.cli.errors import UsageError
from cove.cli.flags import BOOL, INT, LIST, STRING, Flag, FlagSet, HelpRequested
from cove.cli.runopts import RUN_FLAGS


def _run_flags() -> FlagSet:
    return FlagSet("cove run", "[OPTIONS] IMAGE", "Run", RUN_FLAGS, interspersed=False,
                   min_args=1)


def _simple() -> FlagSet:
    return FlagSet("cove x", "", "x", [
        Flag("all", "a", BOOL), Flag("quiet", "q", BOOL), Flag("name", "", STRING),
        Flag("env", "e", LIST), Flag("last", "n", INT, default=-1),
        Flag("memory", "m", STRING, default=0, convert=units.parse_ram),
    ])


def test_combined_short_booleans() -> None:
    opts, args = _run_flags().parse(["-it", "busybox", "sh"])
    assert opts.bool("interactive") and opts.bool("tty")
    assert args == ["busybox", "sh"]


def test_options_stop_at_image_for_run() -> None:
    opts, args = _run_flags().parse(["--rm", "busybox", "ls", "-l", "--rm"])
    assert opts.bool("rm")
    assert args == ["busybox", "ls", "-l", "--rm"]


def test_interspersed_flags_for_other_commands() -> None:
    opts, args = _simple().parse(["c1", "-a", "c2", "--name=x"])
    assert args == ["c1", "c2"]
    assert opts.bool("all") and opts.str("name") == "x"


def test_double_dash_ends_options() -> None:
    opts, args = _simple().parse(["-a", "--", "-q", "--name"])
    assert args == ["-q", "--name"] and not opts.bool("quiet")


def test_value_forms() -> None:
    opts, _ = _simple().parse(["-eA=1", "-e", "B=2", "--env=C=3", "--env", "D=4", "-e=E=5"])
    assert opts.list("env") == ["A=1", "B=2", "C=3", "D=4", "E=5"]


def test_short_value_after_booleans() -> None:
    opts, _ = _simple().parse(["-aqm", "1g"])
    assert opts.bool("all") and opts.bool("quiet") and opts["memory"] == 1 << 30


def test_bool_with_explicit_value() -> None:
    opts, _ = _simple().parse(["--all=false", "-q=true"])
    assert not opts.bool("all") and opts.bool("quiet")
    assert opts.is_set("all") and not opts.is_set("name")


def test_int_flag() -> None:
    opts, _ = _simple().parse(["-n", "3"])
    assert opts.int("last") == 3
    with pytest.raises(UsageError, match=r'invalid argument "x" for "-n, --last" flag'):
        _simple().parse(["-n", "x"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--bogus"], "unknown flag: --bogus"),
    (["-z"], "unknown shorthand flag: 'z' in -z"),
    (["--name"], "flag needs an argument: --name"),
    (["-e"], "flag needs an argument: 'e' in -e"),
    (["--all=maybe"], 'invalid argument "maybe" for "-a, --all" flag'),
    (["-m", "12x"], "invalid argument \"12x\" for \"-m, --memory\" flag: invalid size: '12x'"),
])
def test_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        _simple().parse(argv)
    assert message in info.value.message
    assert info.value.exit_code == 125


def test_argument_counts() -> None:
    fs = FlagSet("cove rm", "CONTAINER", "rm", [], min_args=1)
    with pytest.raises(UsageError, match="cove: 'cove rm' requires at least 1 argument") as info:
        fs.parse([])
    # docker 28: exit 1, the usage line, and (for "at least") "See" instead of "Run"
    assert info.value.exit_code == 1
    assert info.value.render("cove rm") == (
        "cove: 'cove rm' requires at least 1 argument\n\nUsage:  cove rm CONTAINER\n\n"
        "See 'cove rm --help' for more information\n")
    exact = FlagSet("cove rename", "A B", "rename", [], min_args=2, max_args=2)
    with pytest.raises(UsageError, match="cove: 'cove rename' requires 2 arguments") as info:
        exact.parse(["a"])
    assert info.value.render("cove rename").endswith("Run 'cove rename --help' for more "
                                                     "information\n")
    none = FlagSet("cove ps", "", "ps", [], max_args=0)
    with pytest.raises(UsageError, match="accepts no arguments"):
        none.parse(["x"])


def test_flag_error_layout() -> None:
    with pytest.raises(UsageError) as info:
        _simple().parse(["--bogus"])
    assert info.value.exit_code == 125
    assert info.value.render("cove x") == (
        "unknown flag: --bogus\n\nUsage:  cove x\n\nRun 'cove x --help' for more information\n")


def test_help_text_lists_flags() -> None:
    with pytest.raises(HelpRequested) as info:
        _simple().parse(["--help"])
    text = info.value.args[0]
    assert "Usage:  cove x" in text and "-a, --all" in text and "--name string" in text


def test_run_h_is_hostname_not_help() -> None:
    opts, _ = _run_flags().parse(["-h", "box", "busybox"])
    assert opts.str("hostname") == "box"
