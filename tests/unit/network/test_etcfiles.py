"""The container's /etc/hosts and /etc/resolv.conf, checked against Docker's formats."""

from __future__ import annotations

import pytest

from cove.errors import InvalidArgument
from cove.network.etcfiles import hosts_file, nameservers, parse_extra_host, resolv_conf

DOCKER_HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)

HOST_RESOLV = """\
# managed by someone
nameserver 10.203.255.53
nameserver 127.0.0.53
nameserver ::1
nameserver fd00::53
search corp.example lab.example
options edns0 trust-ad
sortlist 10.203.0.0/255.255.0.0
"""


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# -- /etc/hosts ----------------------------------------------------------------------------

def test_hosts_as_docker_writes_it() -> None:
    text = hosts_file("a1b2c3d4e5f6", "", ["10.203.0.2"], [])
    assert text == DOCKER_HOSTS_HEADER + "10.203.0.2\ta1b2c3d4e5f6\n"


def test_hosts_with_domain_extra_hosts_and_two_networks() -> None:
    text = hosts_file("web", "example.com", ["10.203.0.2", "10.203.1.2"],
                      ["db:10.203.9.9", "cache=10.203.9.8", "v6:fd00::1", "br=[fd00::2]"])
    assert text == DOCKER_HOSTS_HEADER + (
        "10.203.9.9\tdb\n"
        "10.203.9.8\tcache\n"
        "fd00::1\tv6\n"
        "fd00::2\tbr\n"
        "10.203.0.2\tweb.example.com web\n"
        "10.203.1.2\tweb.example.com web\n"
    )


def test_hosts_on_network_none_has_no_container_line() -> None:
    assert hosts_file("web", "", [], []) == DOCKER_HOSTS_HEADER


def test_hosts_aliases_follow_the_hostname_once() -> None:
    text = hosts_file("web", "", ["10.203.0.2"], [], aliases=["front", "web", "front"])
    assert text.endswith("10.203.0.2\tweb front\n")


def test_host_gateway_is_resolved_to_the_given_address() -> None:
    text = hosts_file("web", "", ["10.203.0.2"], ["host.docker.internal:host-gateway"],
                      host_gateway="10.203.0.1")
    assert "10.203.0.1\thost.docker.internal\n" in text
    with pytest.raises(InvalidArgument, match="host-gateway"):
        hosts_file("web", "", [], ["host.docker.internal:host-gateway"])


@pytest.mark.parametrize(("entry", "message"), [
    ("nohost", "bad format for add-host"),
    (":10.0.0.1", "bad format for add-host"),
    ("db:not-an-ip", "invalid IP address in add-host"),
    ("db=10.0.0.300", "invalid IP address in add-host"),
])
def test_bad_extra_hosts_are_refused_with_dockers_wording(entry: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_extra_host(entry)


def test_extra_host_ipv6_after_the_first_colon() -> None:
    assert parse_extra_host("v6:::1") == ("v6", "::1")
    assert parse_extra_host("gw:host-gateway") == ("gw", "host-gateway")


def test_hosts_needs_a_hostname() -> None:
    with pytest.raises(InvalidArgument):
        hosts_file("", "", [], [])


# -- /etc/resolv.conf ----------------------------------------------------------------------

def test_nameservers_in_order_invalid_ones_skipped() -> None:
    assert nameservers(HOST_RESOLV + "nameserver bogus\nnameserver\n") == [
        "10.203.255.53", "127.0.0.53", "::1", "fd00::53"]


def test_embedded_uses_127_0_0_11_keeps_search_and_adds_ndots0() -> None:
    text = resolv_conf(HOST_RESOLV, embedded=True, dns=[], search=[], options=[])
    assert directives(text) == [
        "nameserver 127.0.0.11",
        "search corp.example lab.example",
        "options edns0 trust-ad ndots:0",
        "sortlist 10.203.0.0/255.255.0.0",
    ]
    # The host's servers (loopback ones used from the host's namespace) are upstreams.
    assert "# ExtServers: [10.203.255.53 host(127.0.0.53) host(::1) fd00::53]" in text


def test_embedded_with_only_a_nameserver_is_dockers_minimal_file() -> None:
    text = resolv_conf("nameserver 10.0.0.1\n", embedded=True, dns=[], search=[], options=[])
    assert directives(text) == ["nameserver 127.0.0.11", "options ndots:0"]


def test_embedded_overrides_replace_the_hosts_lines() -> None:
    text = resolv_conf(HOST_RESOLV, embedded=True, dns=["10.203.0.53"], search=["svc.local"],
                       options=["timeout:1", "attempts:2"])
    assert directives(text)[:3] == [
        "nameserver 127.0.0.11",
        "search svc.local",
        "options timeout:1 attempts:2 ndots:0",
    ]
    assert "# ExtServers: [10.203.0.53]" in text
    assert "# Overrides: [nameservers search options]" in text


def test_embedded_keeps_a_valid_ndots_and_replaces_an_invalid_one() -> None:
    kept = resolv_conf("", embedded=True, dns=[], search=[], options=["ndots:3"])
    assert "options ndots:3\n" in kept
    fixed = resolv_conf("options ndots:x\n", embedded=True, dns=[], search=[], options=[])
    assert "options ndots:0\n" in fixed


def test_search_dot_means_no_search_domains() -> None:
    text = resolv_conf(HOST_RESOLV, embedded=True, dns=[], search=["."], options=[])
    assert not any(line.startswith("search") for line in directives(text))


def test_last_search_or_domain_line_wins() -> None:
    text = resolv_conf("domain a.example\nsearch b.example\n", embedded=False,
                       dns=["10.203.0.53"], search=[], options=[])
    assert "search b.example\n" in text and "a.example" not in text


def test_legacy_drops_loopback_and_ipv6_nameservers() -> None:
    text = resolv_conf(HOST_RESOLV, embedded=False, dns=[], search=[], options=[])
    assert directives(text) == [
        "nameserver 10.203.255.53",
        "search corp.example lab.example",
        "options edns0 trust-ad",
        "sortlist 10.203.0.0/255.255.0.0",
    ]
    with_v6 = resolv_conf(HOST_RESOLV, embedded=False, dns=[], search=[], options=[], ipv6=True)
    assert directives(with_v6)[:2] == ["nameserver 10.203.255.53", "nameserver fd00::53"]


def test_legacy_overrides_are_used_as_given() -> None:
    text = resolv_conf(HOST_RESOLV, embedded=False, dns=["127.0.0.1", "10.203.0.53"],
                       search=["svc.local"], options=["ndots:2"])
    assert directives(text)[:4] == [
        "nameserver 127.0.0.1",
        "nameserver 10.203.0.53",
        "search svc.local",
        "options ndots:2",
    ]


def test_legacy_without_nameservers_uses_the_embedded_resolver_and_says_so() -> None:
    text = resolv_conf("nameserver 127.0.0.53\nsearch lan\n", embedded=False, dns=[], search=[],
                       options=[])
    assert directives(text) == ["nameserver 127.0.0.11", "search lan"]
    assert "8.8.8.8" not in directives(text)
    assert any(line.startswith("#") and "embedded resolver" in line
               for line in text.splitlines())


def test_invalid_dns_override_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="not-an-ip"):
        resolv_conf("", embedded=True, dns=["not-an-ip"], search=[], options=[])
