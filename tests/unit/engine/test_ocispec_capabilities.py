"""Docker's capability math."""

from __future__ import annotations

import pytest

from cove.engine.ocispec import DEFAULT_CAPABILITIES, container_capabilities
from cove.errors import InvalidArgument
from cove.linux.capabilities import CAP_LAST_KNOWN

LAST = CAP_LAST_KNOWN


def caps(add: list[str], drop: list[str], privileged: bool = False,
         last: int = LAST) -> set[str]:
    return set(container_capabilities(add, drop, privileged=privileged, cap_last_cap=last))


def test_defaults_are_dockers_fourteen() -> None:
    assert len(DEFAULT_CAPABILITIES) == 14
    assert caps([], []) == set(DEFAULT_CAPABILITIES)
    assert {"CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"} <= caps([], [])
    assert "CAP_SYS_ADMIN" not in caps([], [])


@pytest.mark.parametrize("name", ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", "cap_net_admin",
                                  " Net_Admin "])
def test_add_any_spelling(name: str) -> None:
    assert caps([name], []) == set(DEFAULT_CAPABILITIES) | {"CAP_NET_ADMIN"}


def test_drop() -> None:
    assert caps([], ["chown", "CAP_KILL"]) == set(DEFAULT_CAPABILITIES) - {"CAP_CHOWN",
                                                                         "CAP_KILL"}


def test_drop_all_then_add() -> None:
    assert caps(["NET_BIND_SERVICE"], ["ALL"]) == {"CAP_NET_BIND_SERVICE"}
    assert caps([], ["all"]) == set()


def test_add_all_minus_drop() -> None:
    result = caps(["ALL"], ["SYS_ADMIN"])
    assert "CAP_SYS_ADMIN" not in result and "CAP_SYS_MODULE" in result
    assert len(result) == LAST  # bits 0..LAST, one dropped


def test_privileged_is_everything_the_kernel_knows() -> None:
    assert len(caps([], ["ALL"], privileged=True)) == LAST + 1
    assert len(caps([], [], privileged=True, last=37)) == 38
    assert "CAP_BPF" not in caps(["BPF"], [], last=37)


@pytest.mark.parametrize(("add", "drop", "message"), [
    (["FOO"], [], 'invalid CapAdd: unknown capability: "CAP_FOO"'),
    ([], ["cap_bar"], 'invalid CapDrop: unknown capability: "CAP_BAR"'),
])
def test_unknown(add: list[str], drop: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        caps(add, drop)
    assert str(exc.value) == message


def test_result_in_bit_order() -> None:
    result = container_capabilities(["SYS_ADMIN"], [], privileged=False, cap_last_cap=LAST)
    assert result[0] == "CAP_CHOWN" and result[-1] == "CAP_SETFCAP"


def test_limited_to_the_daemons_bounding_set() -> None:
    from cove.errors import FailedPrecondition

    no_sys_resource = ((1 << (LAST + 1)) - 1) & ~(1 << 24)
    everything = container_capabilities([], [], privileged=True, cap_last_cap=LAST,
                                        bounding=no_sys_resource)
    assert "CAP_SYS_RESOURCE" not in everything and len(everything) == LAST
    assert "CAP_SYS_RESOURCE" not in container_capabilities(
        ["ALL"], [], privileged=False, cap_last_cap=LAST, bounding=no_sys_resource)
    with pytest.raises(FailedPrecondition, match="CAP_SYS_RESOURCE is not in the daemon"):
        container_capabilities(["SYS_RESOURCE"], [], privileged=False, cap_last_cap=LAST,
                               bounding=no_sys_resource)
