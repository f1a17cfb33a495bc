"""IPAM: validation of subnets, gateways and ranges; leases; pools for networks."""

from __future__ import annotations

import pytest

from cove.engine.networks.ipam import (
    AddressInUse,
    Pool,
    PoolExhausted,
    SubnetPools,
    overlaps,
    parse_subnet,
)
from cove.errors import InvalidArgument


@pytest.mark.parametrize(("text", "message"), [
    ("10.1.0.0", "invalid CIDR address"),
    ("10.1.0.0/33", "invalid CIDR address"),
    ("nonsense", "invalid CIDR address"),
    ("10.1.0.5/24", "it should be 10.1.0.0/24"),
    ("fd00::/64", "only IPv4"),
])
def test_bad_subnets_are_named(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_subnet(text)


def test_gateway_defaults_to_first_address_and_must_be_inside() -> None:
    assert Pool.plan("10.9.0.0/24").gateway == "10.9.0.1"
    assert Pool.plan("10.9.0.0/24", "10.9.0.254").gateway == "10.9.0.254"
    for bad in ("10.9.1.1", "10.9.0.0", "10.9.0.255"):
        with pytest.raises(InvalidArgument, match="invalid gateway"):
            Pool.plan("10.9.0.0/24", bad)
    with pytest.raises(InvalidArgument, match="ip-range 10.10.0.0/28: not within"):
        Pool.plan("10.9.0.0/24", ip_range="10.10.0.0/28")
    with pytest.raises(InvalidArgument, match="auxiliary"):
        Pool.plan("10.9.0.0/24", aux={"host": "10.8.0.1"})


def test_leases_skip_reserved_and_never_repeat_while_held() -> None:
    pool = Pool.plan("10.9.0.0/29", aux={"router": "10.9.0.2"})
    got = [pool.allocate(f"e{i}") for i in range(4)]
    # .0 network, .1 gateway, .2 aux, .7 broadcast are never handed out
    assert got == ["10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]
    with pytest.raises(PoolExhausted):
        pool.allocate("e9")
    pool.release_owner("e1")
    assert pool.allocate("e5") == "10.9.0.4"


def test_addresses_rotate_instead_of_reusing_the_last_released() -> None:
    pool = Pool.plan("10.9.0.0/24")
    first = pool.allocate("a")
    pool.release_owner("a")
    assert pool.allocate("b") != first


def test_requested_address() -> None:
    pool = Pool.plan("10.9.0.0/24")
    assert pool.allocate("a", "10.9.0.50") == "10.9.0.50"
    with pytest.raises(AddressInUse, match="Address already in use"):
        pool.allocate("b", "10.9.0.50")
    with pytest.raises(AddressInUse):
        pool.allocate("b", "10.9.0.1")  # the gateway
    with pytest.raises(InvalidArgument, match="does not belong"):
        pool.allocate("b", "10.10.0.5")


def test_ip_range_limits_allocation() -> None:
    pool = Pool.plan("10.9.0.0/24", ip_range="10.9.0.128/30")
    assert [pool.allocate(str(i)) for i in range(4)] == \
        ["10.9.0.128", "10.9.0.129", "10.9.0.130", "10.9.0.131"]
    with pytest.raises(PoolExhausted):
        pool.allocate("x")


def test_record_round_trip_keeps_leases() -> None:
    pool = Pool.plan("10.9.0.0/24")
    pool.allocate("a")
    again = Pool.from_record(pool.to_record())
    assert again.leases == pool.leases
    assert again.allocate("b") != "10.9.0.2"


def test_overlaps_and_default_pools() -> None:
    assert overlaps("10.1.0.0/16", ["10.2.0.0/16", "10.1.5.0/24"]) == "10.1.5.0/24"
    assert overlaps("10.1.0.0/16", ["10.2.0.0/16"]) is None
    pools = SubnetPools((("10.78.0.0/23", 24),))
    assert pools.choose([]) == "10.78.0.0/24"
    assert pools.choose(["10.78.0.0/24"]) == "10.78.1.0/24"
    with pytest.raises(PoolExhausted):
        pools.choose(["10.78.0.0/23"])
    with pytest.raises(InvalidArgument):
        SubnetPools((("10.78.0.0/16", 8),)).validate()
