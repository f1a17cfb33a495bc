"""Published-port requests from a create body, and the API's views of bound ports."""

from __future__ import annotations

import pytest

from cove.engine.networks.ports import PortRequest, bound_view, port_requests, summary_ports
from cove.errors import InvalidArgument


def test_bindings_and_publish_all() -> None:
    host = {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                             "53/udp": [{"HostPort": ""}],
                             "9000/tcp": [{"HostPort": "9000-9005"}]},
            "PublishAllPorts": True}
    config = {"ExposedPorts": {"80/tcp": {}, "443/tcp": {}}}
    assert port_requests(host, config) == [
        PortRequest("udp", 53, "", 0),
        PortRequest("tcp", 80, "127.0.0.1", 8080),
        PortRequest("tcp", 9000, "", 9000, 9005),
        PortRequest("tcp", 443, "", 0),
    ]


def test_exposed_only_is_not_published_without_publish_all() -> None:
    assert port_requests({}, {"ExposedPorts": {"80/tcp": {}}}) == []


@pytest.mark.parametrize("bindings", [
    {"80/xyz": [{}]}, {"eighty/tcp": [{}]}, {"70000/tcp": [{}]},
    {"80/tcp": [{"HostPort": "x"}]}, {"80/tcp": [{"HostPort": "90-80"}]},
])
def test_bad_ports_are_refused(bindings: dict[str, list[dict[str, str]]]) -> None:
    with pytest.raises(InvalidArgument):
        port_requests({"PortBindings": bindings}, {})


def test_views() -> None:
    bound = [{"key": "80/tcp", "host_ip": "0.0.0.0", "host_port": 32768}]
    exposed = {"80/tcp": {}, "443/tcp": {}}
    assert bound_view(exposed, bound) == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "443/tcp": None}
    assert summary_ports(exposed, bound) == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"},
        {"PrivatePort": 443, "Type": "tcp"}]
