"""Capability names and the validation of ``process.capabilities``."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cove.errors import InvalidArgument
from cove.linux import capabilities as C


def test_names_and_numbers() -> None:
    names = C.all_capability_names()
    assert len(names) == 41
    assert names[0] == "CAP_CHOWN" and names[-1] == "CAP_CHECKPOINT_RESTORE"
    assert [C.CAPABILITIES[n] for n in names] == list(range(41))
    assert C.CAPABILITIES["CAP_SYS_ADMIN"] == 21 and C.CAPABILITIES["CAP_BPF"] == 39
    assert C.capability_name(8) == "CAP_SETPCAP" and C.capability_name(63) == "CAP_63"


def test_last_cap_matches_proc() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert C.last_cap() == int(f.read())


@pytest.mark.parametrize("caps", [
    None,
    {},
    {"bounding": None},
    {"bounding": ["CAP_CHOWN"], "effective": [], "future": "ignored"},
    {"permitted": ["CAP_NET_BIND_SERVICE"], "inheritable": ["CAP_NET_BIND_SERVICE"],
     "ambient": ["CAP_NET_BIND_SERVICE"]},
    {"bounding": C.all_capability_names()},
])
def test_valid(caps: Any) -> None:
    C.validate_capabilities(caps)


@pytest.mark.parametrize(("caps", "message"), [
    (["CAP_CHOWN"], "process.capabilities: must be an object, not list"),
    ({"bounding": "CAP_CHOWN"},
     "process.capabilities.bounding: must be a list of capability names, not str"),
    ({"effective": ["CAP_CHOWN", 3]}, "process.capabilities.effective[1]: must be a string"),
    ({"permitted": ["CAP_CHOWN", "CAP_FLY"]},
     'process.capabilities.permitted[1]: unknown capability "CAP_FLY"'),
    ({"inheritable": ["chown"]},
     'process.capabilities.inheritable[0]: unknown capability "chown" (did you mean '
     "CAP_CHOWN?)"),
    ({"bounding": ["CAP_sys_admin"]}, "(did you mean CAP_SYS_ADMIN?)"),
    ({"ambient": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
     "process.capabilities.ambient[0]: CAP_KILL must also be in the permitted and "
     "inheritable sets"),
])
def test_invalid_names_the_set_and_entry(caps: Any, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        C.validate_capabilities(caps)
    assert message in str(info.value)


def test_field_prefix_is_the_callers() -> None:
    with pytest.raises(InvalidArgument, match=r"^exec\.capabilities\.bounding\[0\]: unknown"):
        C.validate_capabilities({"bounding": ["CAP_NOPE"]}, field="exec.capabilities")


def test_caps_the_kernel_lacks_are_skipped_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cove.linux.capabilities"):
        mask = C._mask(["CAP_CHOWN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"], 38, "permitted")
    assert mask == 1
    assert "process.capabilities.permitted: the kernel does not know CAP_BPF, " \
           "CAP_CHECKPOINT_RESTORE (last capability 38); ignoring" in caplog.text


def test_none_leaves_the_process_alone() -> None:
    # No prctl or capset happens at all (they would fail or change this test process).
    C.drop_bounding(None)
    C.apply_capabilities(None)
