"""The docker SDK for Python (docker-py 7.1) against Cove's networks.

These cover the behaviours docker-py's own integration suite checks for networks
(api_network_test, models_networks_test, network_test) and the port / network parts of
its container tests, written anew and driven through ``docker.DockerClient`` at the
private coved. Subnets are 10.208.0.0/16; names start with ``cvs-``.

An endpoint's Aliases depend on the API version: below 1.45 (docker-py 7.1's default is
1.44) Docker appends the container's short id on user-defined networks; from 1.45 they are
only what the user gave (the short id is in DNSNames) and null when none were given. Both
are tested; everything else speaks 1.45.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.types import IPAMConfig, IPAMPool

from tests.engine_fixtures import Engine

API_VERSION = "1.45"
IMAGE = "busybox:latest"
SLEEP = ["sleep", "300"]


def _name() -> str:
    # docker-py's random_name has an underscore in it; so does this.
    return f"cvs-dockerpy_{uuid.uuid4().hex[:8]}"


@pytest.fixture(name="client")
def client_fixture(net: Engine) -> Iterator[docker.DockerClient]:
    """A docker-py client at the module's coved; containers and networks go after."""
    client = docker.DockerClient(base_url=net.host, version=API_VERSION, timeout=120)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(name="api")
def api_fixture(client: docker.DockerClient) -> docker.APIClient:
    return client.api


def _network(api: docker.APIClient, **kwargs: Any) -> tuple[str, str]:
    name = _name()
    return name, api.create_network(name, **kwargs)["Id"]


def _started(api: docker.APIClient, **kwargs: Any) -> dict[str, Any]:
    container: dict[str, Any] = api.create_container(IMAGE, SLEEP, **kwargs)
    api.start(container)
    return container


def _endpoint(api: docker.APIClient, container: Any, net_name: str) -> dict[str, Any]:
    settings: dict[str, Any] = api.inspect_container(container)["NetworkSettings"]
    return settings["Networks"][net_name]  # type: ignore[no-any-return]


def _member_ids(api: docker.APIClient, net_id: str) -> list[str]:
    return list((api.inspect_network(net_id).get("Containers") or {}).keys())


# --- networks: list, inspect, create options, remove, prune -------------------------------


def test_list_finds_a_new_network_by_name_and_by_id_prefix(api: docker.APIClient) -> None:
    before = len(api.networks())
    name, net_id = _network(api)
    listed = api.networks()
    assert len(listed) == before + 1
    assert net_id in [n["Id"] for n in listed]
    assert [n["Id"] for n in api.networks(names=[name])] == [net_id]
    assert [n["Id"] for n in api.networks(ids=[net_id[:8]])] == [net_id]
    assert api.networks(names=["cvs-no-such-network"]) == []
    assert api.networks(ids=["fdhjklfdfdshjkfd"]) == []


def test_inspect_reports_a_local_bridge_with_default_ipam(api: docker.APIClient) -> None:
    name, net_id = _network(api)
    for ref in (net_id, name, net_id[:12]):
        net = api.inspect_network(ref)
        assert net["Id"] == net_id
        assert net["Name"] == name
        assert net["Driver"] == "bridge"
        assert net["Scope"] == "local"
        assert net["IPAM"]["Driver"] == "default"
    assert api.inspect_network(net_id, scope="local")["Id"] == net_id


def test_ipam_pool_is_reported_as_given(api: docker.APIClient) -> None:
    aux = {"a": "10.208.1.5", "b": "10.208.1.6", "c": "10.208.1.7"}
    _, net_id = _network(api, ipam=IPAMConfig(driver="default", pool_configs=[
        IPAMPool(subnet="10.208.0.0/16", iprange="10.208.5.0/24", gateway="10.208.5.254",
                 aux_addresses=aux)]))
    ipam = api.inspect_network(net_id)["IPAM"]
    ipam.pop("Options", None)
    assert ipam == {"Driver": "default", "Config": [
        {"Subnet": "10.208.0.0/16", "IPRange": "10.208.5.0/24", "Gateway": "10.208.5.254",
         "AuxiliaryAddresses": aux}]}


def test_ipam_options_are_null_when_none_were_given(api: docker.APIClient) -> None:
    _, net_id = _network(api, ipam=IPAMConfig(driver="default", pool_configs=[
        IPAMPool(subnet="10.208.0.0/16", iprange="10.208.5.0/24", gateway="10.208.5.254")]))
    assert api.inspect_network(net_id)["IPAM"].pop("Options", None) is None


def test_a_second_host_network_is_refused(api: docker.APIClient) -> None:
    name = _name()
    with pytest.raises(docker.errors.APIError) as err:
        api.create_network(name, driver="host")
    assert err.value.status_code == 403
    assert api.networks(names=[name]) == []


def test_a_duplicate_name_is_refused(api: docker.APIClient) -> None:
    name, net_id = _network(api)
    for check in (True, False):
        with pytest.raises(docker.errors.APIError) as err:
            api.create_network(name, check_duplicate=check)
        assert err.value.status_code == 409
    assert [n["Id"] for n in api.networks(names=[name])] == [net_id]


def test_remove_takes_the_network_out_of_the_list(api: docker.APIClient) -> None:
    before = len(api.networks())
    name, net_id = _network(api)
    assert name in [n["Name"] for n in api.networks()]
    api.remove_network(net_id)
    assert name not in [n["Name"] for n in api.networks()]
    assert len(api.networks()) == before
    with pytest.raises(docker.errors.NotFound):
        api.inspect_network(net_id)


def test_internal_attachable_and_labels_are_kept(api: docker.APIClient) -> None:
    _, net_id = _network(api, internal=True, attachable=True,
                         labels={"com.docker.py.test": "label"})
    net = api.inspect_network(net_id)
    assert net["Internal"] is True
    assert net["Attachable"] is True
    assert net["Labels"] == {"com.docker.py.test": "label"}
    _, plain_id = _network(api)
    plain = api.inspect_network(plain_id)
    assert plain["Internal"] is False
    assert plain["Attachable"] is False
    assert plain["Labels"] == {}


def test_prune_deletes_unused_networks_only(api: docker.APIClient) -> None:
    unused, _ = _network(api)
    used, used_id = _network(api)
    _started(api, host_config=api.create_host_config(network_mode=used))
    result = api.prune_networks()
    assert unused in result["NetworksDeleted"]
    assert used not in result["NetworksDeleted"]
    assert "bridge" not in result["NetworksDeleted"]
    assert api.inspect_network(used_id)["Name"] == used
    assert api.networks(names=[unused]) == []


def test_ipv6_networks_are_refused_as_not_implemented(api: docker.APIClient) -> None:
    """Out of scope (docker-py's enable_ipv6 / ipv6_address tests): Cove answers 501."""
    with pytest.raises(docker.errors.APIError) as err:
        api.create_network(_name(), enable_ipv6=True, ipam=IPAMConfig(pool_configs=[
            IPAMPool(subnet="fd00:cafe:208::/64")]))
    assert err.value.status_code == 501


def test_ipv6_endpoint_address_is_refused_as_not_implemented(api: docker.APIClient) -> None:
    """Out of scope (docker-py's create/connect with ipv6_address): Cove answers 501."""
    _, net_id = _network(api)
    container = api.create_container(IMAGE, SLEEP)
    with pytest.raises(docker.errors.APIError) as err:
        api.connect_container_to_network(container, net_id, ipv6_address="fd00:cafe:208::5")
    assert err.value.status_code == 501
    assert "IPv6" in str(err.value.explanation)


def test_overlay_and_ingress_networks_are_refused(api: docker.APIClient) -> None:
    """Out of scope (docker-py's attachable-overlay and ingress tests need swarm mode)."""
    for kwargs in ({"driver": "overlay", "attachable": True},
                   {"driver": "overlay", "ingress": True}):
        name = _name()
        with pytest.raises(docker.errors.APIError):
            api.create_network(name, **kwargs)
        assert api.networks(names=[name]) == []


# --- connect / disconnect ---------------------------------------------------------------


def test_connect_and_disconnect_a_running_container(api: docker.APIClient) -> None:
    _, net_id = _network(api)
    container = _started(api)
    assert not api.inspect_network(net_id).get("Containers")
    api.connect_container_to_network(container, net_id)
    assert _member_ids(api, net_id) == [container["Id"]]
    with pytest.raises(docker.errors.APIError):
        api.connect_container_to_network(container, net_id)
    api.disconnect_container_from_network(container, net_id)
    assert not api.inspect_network(net_id).get("Containers")
    with pytest.raises(docker.errors.APIError):
        api.disconnect_container_from_network(container, net_id)


def test_force_disconnect(api: docker.APIClient) -> None:
    _, net_id = _network(api)
    container = _started(api)
    api.connect_container_to_network(container, net_id)
    assert _member_ids(api, net_id) == [container["Id"]]
    api.disconnect_container_from_network(container, net_id, force=True)
    assert not api.inspect_network(net_id).get("Containers")
    with pytest.raises(docker.errors.APIError):
        api.disconnect_container_from_network(container, net_id, force=True)


def test_connect_by_container_name_and_short_id(api: docker.APIClient) -> None:
    name, net_id = _network(api)
    cname = _name()
    container = _started(api, name=cname)
    api.connect_container_to_network(cname, name)
    assert _member_ids(api, net_id) == [container["Id"]]
    api.disconnect_container_from_network(container["Id"][:12], net_id[:12])
    assert not api.inspect_network(net_id).get("Containers")


def test_connect_to_a_missing_network_or_container_is_not_found(
        api: docker.APIClient) -> None:
    name, _ = _network(api)
    container = _started(api)
    with pytest.raises(docker.errors.NotFound):
        api.connect_container_to_network(container, "cvs-no-such-network")
    with pytest.raises(docker.errors.NotFound):
        api.connect_container_to_network("cvs-no-such-container", name)


def test_connect_with_aliases(api: docker.APIClient) -> None:
    name, net_id = _network(api)
    container = _started(api)
    api.connect_container_to_network(container, net_id, aliases=["foo", "bar"])
    assert _endpoint(api, container, name)["Aliases"] == ["foo", "bar"]


def test_network_mode_attaches_on_create(api: docker.APIClient) -> None:
    name, net_id = _network(api)
    container = _started(api, host_config=api.create_host_config(network_mode=name))
    assert _member_ids(api, net_id) == [container["Id"]]
    info = api.inspect_container(container)
    assert list(info["NetworkSettings"]["Networks"]) == [name]
    assert info["HostConfig"]["NetworkMode"] == name
    api.disconnect_container_from_network(container, net_id)
    assert not api.inspect_network(net_id).get("Containers")


def test_create_with_aliases(api: docker.APIClient) -> None:
    name, _ = _network(api)
    container = _started(
        api, host_config=api.create_host_config(network_mode=name),
        networking_config=api.create_networking_config(
            {name: api.create_endpoint_config(aliases=["foo", "bar"])}))
    assert _endpoint(api, container, name)["Aliases"] == ["foo", "bar"]


def test_create_with_ipv4_address(api: docker.APIClient) -> None:
    name, _ = _network(api, ipam=IPAMConfig(driver="default", pool_configs=[
        IPAMPool(subnet="10.208.0.0/16")]))
    container = _started(
        api, host_config=api.create_host_config(network_mode=name),
        networking_config=api.create_networking_config(
            {name: api.create_endpoint_config(ipv4_address="10.208.0.23")}))
    ep = _endpoint(api, container, name)
    assert ep["IPAMConfig"]["IPv4Address"] == "10.208.0.23"
    assert ep["IPAddress"] == "10.208.0.23"


def test_reconnect_with_ipv4_address_in_the_ip_range(api: docker.APIClient) -> None:
    name, _ = _network(api, ipam=IPAMConfig(driver="default", pool_configs=[
        IPAMPool(subnet="10.208.0.0/16", iprange="10.208.5.0/24", gateway="10.208.5.254")]))
    container = _started(api, host_config=api.create_host_config(network_mode=name))
    first = _endpoint(api, container, name)["IPAddress"]
    assert first.startswith("10.208.5.")
    api.disconnect_container_from_network(container, name)
    api.connect_container_to_network(container, name, ipv4_address="10.208.5.24")
    ep = _endpoint(api, container, name)
    assert ep["IPAMConfig"]["IPv4Address"] == "10.208.5.24"
    assert ep["IPAddress"] == "10.208.5.24"
    assert ep["Gateway"] == "10.208.5.254"


def test_create_with_link_local_ips(api: docker.APIClient) -> None:
    container = _started(
        api, host_config=api.create_host_config(network_mode="bridge"),
        networking_config=api.create_networking_config(
            {"bridge": api.create_endpoint_config(link_local_ips=["169.254.8.8"])}))
    ep = _endpoint(api, container, "bridge")
    assert ep["IPAMConfig"]["LinkLocalIPs"] == ["169.254.8.8"]


def _exec_status(api: docker.APIClient, container: Any, cmd: list[str]) -> tuple[int, bytes]:
    exec_id = api.exec_create(container, cmd)["Id"]
    output: bytes = api.exec_start(exec_id)
    return api.exec_inspect(exec_id)["ExitCode"], output


def test_create_with_endpoint_link_to_a_later_container(api: docker.APIClient) -> None:
    name, _ = _network(api)
    upstream = _name()
    container = _started(
        api, host_config=api.create_host_config(network_mode=name),
        networking_config=api.create_networking_config(
            {name: api.create_endpoint_config(links=[(upstream, "bar")])}))
    assert _endpoint(api, container, name)["Links"] == [f"{upstream}:bar"]
    _started(api, name=upstream, host_config=api.create_host_config(network_mode=name))
    status, output = _exec_status(api, container, ["nslookup", "bar"])
    assert status == 0, output


def test_connect_with_endpoint_link_to_a_later_container(api: docker.APIClient) -> None:
    name, _ = _network(api)
    upstream = _name()
    container = _started(api, host_config=api.create_host_config(network_mode=name))
    api.disconnect_container_from_network(container, name)
    api.connect_container_to_network(container, name, links=[(upstream, "bar")])
    assert _endpoint(api, container, name)["Links"] == [f"{upstream}:bar"]
    _started(api, name=upstream, host_config=api.create_host_config(network_mode=name))
    status, output = _exec_status(api, container, ["nslookup", "bar"])
    assert status == 0, output


def test_endpoint_link_to_a_running_container_resolves(api: docker.APIClient) -> None:
    name, _ = _network(api)
    upstream = _name()
    _started(api, name=upstream, host_config=api.create_host_config(network_mode=name))
    container = _started(
        api, host_config=api.create_host_config(network_mode=name),
        networking_config=api.create_networking_config(
            {name: api.create_endpoint_config(links=[(upstream, "bar")])}))
    assert _endpoint(api, container, name)["Links"] == [f"{upstream}:bar"]
    status, output = _exec_status(api, container, ["nslookup", "bar"])
    assert status == 0, output


def test_legacy_links_give_environment(api: docker.APIClient) -> None:
    targets = []
    for _ in range(2):
        target = _name()
        api.start(api.create_container(IMAGE, "cat", detach=True, stdin_open=True,
                                       environment={"FOO": "1"}, name=target))
        targets.append(target)
    linker = api.create_container(IMAGE, "env", host_config=api.create_host_config(
        links={targets[0]: "mylink1", targets[1]: "mylink2"}, network_mode="bridge"))
    api.start(linker)
    assert api.wait(linker, timeout=60)["StatusCode"] == 0
    logs = api.logs(linker).decode()
    for prefix in ("MYLINK1", "MYLINK2"):
        assert f"{prefix}_NAME=" in logs, logs
        assert f"{prefix}_ENV_FOO=1" in logs, logs


def test_remove_link_keeps_both_containers(api: docker.APIClient) -> None:
    target = api.create_container(IMAGE, "cat", detach=True, stdin_open=True)
    api.start(target)
    target_name = api.inspect_container(target)["Name"][1:]
    linker = api.create_container(IMAGE, "cat", detach=True, stdin_open=True,
                                  host_config=api.create_host_config(
                                      links={target_name: "mylink"}))
    api.start(linker)
    linker_name = api.inspect_container(linker)["Name"][1:]
    api.remove_container(f"{linker_name}/mylink", link=True)
    listed = api.containers(all=True)
    assert not [c for c in listed if f"/{linker_name}/mylink" in c["Names"]]
    ids = {c["Id"] for c in listed}
    assert {target["Id"], linker["Id"]} <= ids
    assert not api.inspect_container(linker)["HostConfig"]["Links"]


# --- aliases by API version -------------------------------------------------------------


def test_aliases_at_1_45_are_what_was_given(net: Engine) -> None:
    client = docker.DockerClient(base_url=net.host, version="1.45", timeout=120)
    try:
        name = _name()
        client.networks.create(name)
        given = client.containers.run(
            IMAGE, "sleep 300", network=name, detach=True,
            networking_config={name: client.api.create_endpoint_config(aliases=["hello"])})
        given.reload()
        ep = given.attrs["NetworkSettings"]["Networks"][name]
        assert ep["Aliases"] == ["hello"]
        assert given.id[:12] in ep["DNSNames"]
        assert "hello" in ep["DNSNames"]
    finally:
        client.close()


def test_aliases_at_1_44_include_the_short_id(net: Engine) -> None:
    client = docker.DockerClient(base_url=net.host, version="1.44", timeout=120)
    try:
        name = _name()
        client.networks.create(name)
        plain = client.containers.run(IMAGE, "sleep 300", network=name, detach=True)
        assert plain.attrs["NetworkSettings"]["Networks"][name]["Aliases"] == [plain.id[:12]]
        given = client.containers.run(
            IMAGE, "sleep 300", network=name, detach=True,
            networking_config={name: client.api.create_endpoint_config(aliases=["hello"])})
        # Docker appends the short id after the user's aliases.
        aliases = given.attrs["NetworkSettings"]["Networks"][name]["Aliases"]
        assert aliases == ["hello", given.id[:12]]
        on_bridge = client.containers.run(IMAGE, "sleep 300", detach=True)
        assert not on_bridge.attrs["NetworkSettings"]["Networks"]["bridge"]["Aliases"]
    finally:
        client.close()


# --- models: NetworkCollection / Network ------------------------------------------------


def test_model_create_get_list_remove(client: docker.DockerClient) -> None:
    name = _name()
    network = client.networks.create(name, labels={"foo": "bar"})
    assert network.name == name
    assert network.attrs["Labels"]["foo"] == "bar"
    assert client.networks.get(network.id).name == name
    assert client.networks.get(name).id == network.id
    assert network.id in [n.id for n in client.networks.list()]
    assert network.id in [n.id for n in client.networks.list(ids=[network.id])]
    assert network.id in [n.id for n in client.networks.list(names=[name])]
    assert network.id not in [n.id for n in client.networks.list(ids=["fdhjklfdfdshjkfds"])]
    assert network.id not in [n.id for n in client.networks.list(names=["fdshjklfdsjhkl"])]
    network.remove()
    assert network.id not in [n.id for n in client.networks.list()]
    with pytest.raises(docker.errors.NotFound):
        client.networks.get(network.id)


def test_model_connect_before_start_then_disconnect(client: docker.DockerClient) -> None:
    network = client.networks.create(_name())
    container = client.containers.create(IMAGE, "sleep 300")
    assert network.containers == []
    network.connect(container)
    container.start()
    assert client.networks.get(network.id).containers == [container]
    greedy = [c for n in client.networks.list(ids=[network.id], greedy=True)
              for c in n.containers]
    assert greedy == [container]
    network.disconnect(container)
    assert network.containers == []
    assert client.networks.get(network.id).containers == []


def test_model_run_with_network(client: docker.DockerClient) -> None:
    name = _name()
    client.networks.create(name)
    container = client.containers.run(IMAGE, "echo hello world", network=name, detach=True)
    networks = container.attrs["NetworkSettings"]["Networks"]
    assert list(networks) == [name]


def test_model_run_with_networking_config(client: docker.DockerClient) -> None:
    name = _name()
    client.networks.create(name)
    config = {name: client.api.create_endpoint_config(aliases=["hello"],
                                                      driver_opt={"key1": "a"})}
    container = client.containers.run(IMAGE, "sleep 300", network=name,
                                      networking_config=config, detach=True)
    ep = container.attrs["NetworkSettings"]["Networks"][name]
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [name]
    assert ep["Aliases"] == ["hello"]
    assert ep["DriverOpts"] == {"key1": "a"}


def test_model_run_with_an_undeclared_network_is_not_found(
        client: docker.DockerClient) -> None:
    name = _name()
    client.networks.create(name)
    config = {name: client.api.create_endpoint_config(aliases=["hello"]),
              "cvs-undeclared": client.api.create_endpoint_config(aliases=["test"])}
    with pytest.raises(docker.errors.NotFound):
        client.containers.run(IMAGE, "sleep 300", network=name, networking_config=config,
                              detach=True)


def test_model_run_with_only_an_undeclared_network_config(
        client: docker.DockerClient) -> None:
    name = _name()
    client.networks.create(name)
    # docker-py drops a networking_config that does not name the run's network.
    config = {"cvs-undeclared": client.api.create_endpoint_config(
        aliases=["hello"], driver_opt={"key1": "a"})}
    container = client.containers.run(IMAGE, "sleep 300", network=name,
                                      networking_config=config, detach=True)
    networks = container.attrs["NetworkSettings"]["Networks"]
    assert list(networks) == [name]
    assert networks[name]["DriverOpts"] is None
    assert networks[name]["Aliases"] is None


# --- containers: ports, network_mode, mac address, stats --------------------------------


def test_port_reports_each_binding(api: docker.APIClient) -> None:
    bindings = {"1111": ("127.0.0.1", "42417"), "2222": ("127.0.0.1", "42418"),
                "3333/udp": ("127.0.0.1", "42419")}
    container = _started(api, ports=[1111, 2222, (3333, "udp")],
                         host_config=api.create_host_config(port_bindings=bindings,
                                                            network_mode="bridge"))
    for port, (ip, host_port) in bindings.items():
        found = api.port(container, port)
        assert found, port
        assert found[-1]["HostIp"] == ip
        assert found[-1]["HostPort"] == host_port
    assert api.port(container, 4444) is None


@pytest.mark.parametrize("target", [None, ("127.0.0.1", 42420), [42421, 42422]],
                         ids=["none", "tuple", "list"])
def test_model_ports(client: docker.DockerClient, target: Any) -> None:
    container = client.containers.run(IMAGE, "sleep 300", detach=True,
                                      ports={"2222/tcp": target})
    container.reload()
    ports = container.ports
    assert sorted(ports) == ["2222/tcp"]
    assert ports["2222/tcp"]
    for binding in ports["2222/tcp"]:
        assert sorted(binding) == ["HostIp", "HostPort"]
        assert int(binding["HostPort"]) > 0
    host_ports = {b["HostPort"] for b in ports["2222/tcp"]}
    if isinstance(target, tuple):
        assert host_ports == {str(target[1])}
        assert {b["HostIp"] for b in ports["2222/tcp"]} == {target[0]}
    elif isinstance(target, list):
        assert host_ports == {str(p) for p in target}


def test_network_mode_none(api: docker.APIClient) -> None:
    container = _started(api, host_config=api.create_host_config(network_mode="none"))
    info = api.inspect_container(container)
    assert info["HostConfig"]["NetworkMode"] == "none"
    assert list(info["NetworkSettings"]["Networks"]) == ["none"]
    assert info["NetworkSettings"]["IPAddress"] == ""


def test_default_bridge_gives_top_level_address(api: docker.APIClient) -> None:
    container = _started(api)
    settings = api.inspect_container(container)["NetworkSettings"]
    assert list(settings["Networks"]) == ["bridge"]
    assert settings["IPAddress"]
    assert settings["IPAddress"] == settings["Networks"]["bridge"]["IPAddress"]
    assert settings["MacAddress"] == settings["Networks"]["bridge"]["MacAddress"]


def test_network_mode_host_and_container(api: docker.APIClient) -> None:
    on_host = _started(api, host_config=api.create_host_config(network_mode="host"))
    info = api.inspect_container(on_host)
    assert info["HostConfig"]["NetworkMode"] == "host"
    assert list(info["NetworkSettings"]["Networks"]) == ["host"]
    owner = _started(api)
    joined = _started(api, host_config=api.create_host_config(
        network_mode=f"container:{owner['Id']}"))
    joined_info = api.inspect_container(joined)
    assert joined_info["HostConfig"]["NetworkMode"] == f"container:{owner['Id']}"
    assert joined_info["NetworkSettings"]["Networks"] == {}
    owner_ip = api.inspect_container(owner)["NetworkSettings"]["IPAddress"]
    status, output = _exec_status(api, joined, ["ip", "-4", "-o", "addr", "show", "eth0"])
    assert status == 0, output
    assert owner_ip in output.decode()


def test_leave_swarm_is_harmless(api: docker.APIClient) -> None:
    """docker-py's network tests call leave_swarm(force=True) in every tearDown; it must
    answer 406 or 503 (not in a swarm), which docker-py takes as success."""
    assert api.leave_swarm(force=True) is True


def test_create_with_mac_address(api: docker.APIClient) -> None:
    mac = "02:42:0a:d0:00:0a"
    container = api.create_container(IMAGE, SLEEP, mac_address=mac)
    api.start(container)
    assert api.inspect_container(container)["NetworkSettings"]["MacAddress"] == mac


def test_stats_have_networks(client: docker.DockerClient) -> None:
    container = client.containers.run(IMAGE, "sleep 300", detach=True)
    stats = container.stats(stream=False)
    for key in ("read", "networks", "precpu_stats", "cpu_stats", "memory_stats",
                "blkio_stats"):
        assert key in stats, key
    assert "eth0" in stats["networks"]
