"""The nft script Cove writes, built from networks and port mappings (no kernel)."""

from __future__ import annotations

import pytest

from cove.errors import InvalidArgument
from cove.network.firewall.iptables_compat import IptablesCompat
from cove.network.firewall.nft import Firewall
from cove.network.firewall.rules import (
    FwNetwork,
    PortMapping,
    build_ruleset,
    destroy_script,
)

T = "ip cvfw_unit"


def rules(networks: list[FwNetwork], mappings: list[PortMapping] | None = None) -> list[str]:
    return build_ruleset("cvfw_unit", networks, mappings or []).splitlines()


def chain(lines: list[str], name: str) -> list[str]:
    prefix = f"add rule {T} {name} "
    return [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]


def test_base_chains_hooks_and_priorities() -> None:
    lines = rules([])
    assert f"add chain {T} prerouting {{ type nat hook prerouting priority dstnat; " \
           "policy accept; }" in lines
    assert f"add chain {T} output {{ type nat hook output priority -100; policy accept; }}" \
        in lines
    assert f"add chain {T} postrouting {{ type nat hook postrouting priority srcnat; " \
           "policy accept; }" in lines
    assert f"add chain {T} forward {{ type filter hook forward priority filter; " \
           "policy accept; }" in lines


def test_user_chain_is_created_but_never_flushed() -> None:
    lines = rules([FwNetwork("cvfw0", "10.202.1.0/24")])
    assert f"add chain {T} cove-user" in lines
    assert not [line for line in lines if "flush" in line and "cove-user" in line]
    flushed = {line.split()[-1] for line in lines if line.startswith("flush chain")}
    assert flushed == {"prerouting", "output", "postrouting", "forward"}
    # The jump comes first, so an operator's drop precedes every accept of Cove's.
    assert chain(lines, "forward")[0] == "jump cove-user"


def test_masquerade_of_a_network() -> None:
    post = chain(rules([FwNetwork("cvfw0", "10.202.1.7/24")]), "postrouting")
    assert 'ip saddr 10.202.1.0/24 oifname != "cvfw0" masquerade' in post
    assert 'oifname "cvfw0" ip saddr 127.0.0.0/8 masquerade' in post
    assert 'oifname "cvfw0" ip saddr 10.202.1.0/24 ct status dnat masquerade' in post


def test_masquerade_off() -> None:
    post = chain(rules([FwNetwork("cvfw0", "10.202.1.0/24", masquerade=False)]), "postrouting")
    assert not [r for r in post if "oifname !=" in r]


def test_isolation_between_bridges() -> None:
    fwd = chain(rules([FwNetwork("cvfw0", "10.202.1.0/24"),
                       FwNetwork("cvfw1", "10.202.2.0/24")]), "forward")
    assert 'iifname "cvfw0" oifname { "cvfw1" } drop' in fwd
    assert 'iifname "cvfw1" oifname { "cvfw0" } drop' in fwd
    assert 'iifname { "cvfw0", "cvfw1" } accept' in fwd
    # Established traffic and DNATed connections pass before the isolation drops.
    assert fwd.index("ct state established,related accept") < fwd.index(
        'iifname "cvfw0" oifname { "cvfw1" } drop')
    assert fwd.index('ct status dnat oifname { "cvfw0", "cvfw1" } accept') < fwd.index(
        'iifname "cvfw0" oifname { "cvfw1" } drop')
    # Unsolicited, un-DNATed inbound connections to containers are dropped last.
    assert fwd[-1] == 'oifname { "cvfw0", "cvfw1" } drop'


def test_internal_network_has_no_way_in_or_out() -> None:
    lines = rules([FwNetwork("cvfw0", "10.202.1.0/24"),
                   FwNetwork("cvfw-int", "10.202.3.0/24", internal=True)])
    fwd = chain(lines, "forward")
    drops = ['iifname "cvfw-int" oifname != "cvfw-int" drop',
             'oifname "cvfw-int" iifname != "cvfw-int" drop']
    for d in drops:
        # Before the established/DNAT accepts: nothing reaches an internal network.
        assert fwd.index(d) < fwd.index("ct state established,related accept")
    assert 'iifname { "cvfw0" } accept' in fwd
    assert not [r for r in chain(lines, "postrouting") if "10.202.3.0/24" in r]


def test_icc_false_drops_bridge_local_traffic() -> None:
    fwd = chain(rules([FwNetwork("cvfw0", "10.202.1.0/24", icc=False)]), "forward")
    assert 'iifname "cvfw0" oifname "cvfw0" drop' in fwd
    fwd = chain(rules([FwNetwork("cvfw0", "10.202.1.0/24")]), "forward")
    assert 'iifname "cvfw0" oifname "cvfw0" accept' in fwd


def test_published_ports_all_addresses_and_one_address() -> None:
    lines = rules([FwNetwork("cvfw0", "10.202.1.0/24")], [
        PortMapping("tcp", "", 18080, "10.202.1.2", 8080, "cvfw0"),
        PortMapping("udp", "0.0.0.0", 5353, "10.202.1.2", 53, "cvfw0"),
        PortMapping("tcp", "127.0.0.1", 18081, "10.202.1.3", 80, "cvfw0"),
    ])
    assert (f"add element {T} published_any {{ tcp . 18080 : 10.202.1.2 . 8080, "
            "udp . 5353 : 10.202.1.2 . 53 }") in lines
    assert f"add element {T} published_addr {{ 127.0.0.1 . tcp . 18081 : 10.202.1.3 . 80 }}" \
        in lines
    for name in ("prerouting", "output"):
        assert chain(lines, name) == [
            "dnat ip to ip daddr . meta l4proto . th dport map @published_addr",
            "fib daddr type local dnat ip to meta l4proto . th dport map @published_any",
        ]
    # The maps are emptied in the same transaction, so removed ports vanish.
    assert f"flush map {T} published_any" in lines
    assert f"flush map {T} published_addr" in lines


def test_no_ports_no_elements() -> None:
    assert not [line for line in rules([]) if line.startswith("add element")]


def test_same_host_port_twice_is_refused() -> None:
    m = PortMapping("tcp", "", 18080, "10.202.1.2", 80, "cvfw0")
    with pytest.raises(InvalidArgument, match="0.0.0.0:18080/tcp is published twice"):
        rules([], [m, m])
    # Same port on another protocol or another address is fine.
    rules([], [m, PortMapping("udp", "", 18080, "10.202.1.2", 80, "cvfw0")])


@pytest.mark.parametrize("mapping, message", [
    (PortMapping("sctp", "", 1, "10.202.1.2", 1, "b"), "not tcp or udp"),
    (PortMapping("tcp", "", 0, "10.202.1.2", 1, "b"), "host port 0 is out of range"),
    (PortMapping("tcp", "", 1, "10.202.1.2", 65536, "b"), "container port 65536"),
    (PortMapping("tcp", "::1", 1, "10.202.1.2", 1, "b"), "host address '::1'"),
    (PortMapping("tcp", "", 1, "nope", 1, "b"), "container address 'nope'"),
])
def test_bad_mappings(mapping: PortMapping, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        rules([], [mapping])


def test_bad_names() -> None:
    with pytest.raises(InvalidArgument, match="interface name"):
        rules([FwNetwork('a"b', "10.202.1.0/24")])
    with pytest.raises(InvalidArgument, match="is not IPv4"):
        rules([FwNetwork("cvfw0", "fd00::/64")])
    with pytest.raises(InvalidArgument, match="table name"):
        build_ruleset("a b", [], [])


def test_destroy_script_never_fails_on_a_missing_table() -> None:
    assert destroy_script("cvfw_unit") == f"add table {T}\ndelete table {T}\n"


def test_firewall_model_is_what_sync_writes() -> None:
    fw = Firewall("cvfw_unit")  # no kernel call until a commit
    try:
        net = FwNetwork("cvfw0", "10.202.1.0/24")
        with pytest.raises(InvalidArgument, match="name a bridge twice"):
            fw.set_networks([net, net])
        assert fw.rules_text() == build_ruleset("cvfw_unit", [], [])
    finally:
        fw.close()


def test_iptables_compat_without_the_binary_does_nothing() -> None:
    compat = IptablesCompat("cvfw-no-such-iptables")
    assert not compat.available
    compat.add_bridge("cvfw0")
    compat.remove_bridge("cvfw0")
    compat.remove_all()
