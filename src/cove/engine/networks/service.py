"""NetworkService: networks (create, list, remove, prune) and the create/teardown of
each running container's network namespace and endpoints.

A container with a network of its own gets a namespace made by the daemon and kept
by a bind mount (``<exec-root>/netns/<id>``), passed to the OCI runtime as a path.
The daemon configures it before the container's first instruction runs, and tears it
down after the exit — the CNI DEL of a plugin network needs the namespace, and a
namespace of the daemon's own can be checked and removed after a crash.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cove.engine.networks import etc
from cove.engine.networks.config import NetworkConfig
from cove.engine.networks.drivers.base import Attachment, Driver
from cove.engine.networks.filters import list_matcher
from cove.engine.networks.ipam import Forbidden, Pool, overlaps, parse_subnet
from cove.engine.networks.model import (
    BRIDGE,
    CNI,
    HOST,
    MACVLAN,
    NULL,
    OPT_BRIDGE_NAME,
    OPT_DEFAULT_BRIDGE,
    OPT_HOST_IP,
    OPT_ICC,
    OPT_MASQ,
    OPT_MTU,
    Network,
)
from cove.engine.networks.ports import PortRequest, port_requests
from cove.engine.networks.publish import Publisher
from cove.engine.networks.store import NetworkStore
from cove.errors import Conflict, InvalidArgument, NotFound, Unsupported

if TYPE_CHECKING:
    from cove.engine.containers.model import Container
    from cove.engine.events import EventLog

log = logging.getLogger(__name__)

_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# Endpoint fields the daemon fills while the container runs (cleared after it stops).
_RUNTIME_FIELDS = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                   "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0}


def _now() -> str:
    from cove.engine.containers.model import now_rfc3339
    return now_rfc3339()


def _new_id() -> str:
    return os.urandom(32).hex()


class NetworkService:
    def __init__(self, root: str, exec_root: str, config: NetworkConfig,
                 events: EventLog | None = None) -> None:
        from cove.linux.netlink import Netlink
        self.config = config
        self.events = events
        self.store = NetworkStore(root)
        self.netns_dir = os.path.join(exec_root, "netns")
        os.makedirs(self.netns_dir, mode=0o711, exist_ok=True)
        self.host = Netlink()
        self.host_lock = threading.Lock()
        # Set by the engine: every container record, and one by id.
        self.containers: Callable[[], list[Container]] = lambda: []
        self.container: Callable[[str], Container | None] = lambda cid: None
        self.save_container: Callable[[Container], None] = lambda c: None
        self.publisher = Publisher(config)
        self._drivers: dict[str, Driver] = {}
        self._dns: Any = None
        self._dns_lock = threading.Lock()
        # Attaches in progress per network (under store.lock): a removal waits for none.
        self._attaching: dict[str, int] = {}
        # Bumped whenever the resolver's answers may change (endpoints, renames).
        self.dns_generation = 0

    # -- drivers and helpers ---------------------------------------------------------------

    def driver(self, name: str) -> Driver:
        found = self._drivers.get(name)
        if found is not None:
            return found
        made: Driver
        if name == BRIDGE:
            from cove.engine.networks.drivers.bridge import BridgeDriver
            made = BridgeDriver(self.host, self.host_lock)
        elif name == MACVLAN:
            from cove.engine.networks.drivers.macvlan import MacvlanDriver
            made = MacvlanDriver(self.host, self.host_lock)
        elif name == CNI:
            from cove.engine.networks.drivers.cni import CniDriver
            from cove.network.cni import CniRuntime
            runtime = CniRuntime(list(self.config.cni_plugin_dirs),
                                 os.path.join(self.store.dir, "cni-cache"))
            made = CniDriver(runtime, list(self.config.cni_config_dirs))
        else:
            raise NotFound(f'plugin "{name}" not found')
        self._drivers[name] = made
        return made

    def _emit(self, action: str, net: Network, **extra: str) -> None:
        if self.events is not None:
            self.events.emit("network", action, net.id,
                             {"name": net.name, "type": net.driver, **extra})

    # -- the pre-defined networks ----------------------------------------------------------

    def start(self) -> None:
        """At daemon start: the pre-defined networks, then the host side of each network
        (bridges, firewall) as the records say."""
        self._builtin(HOST, HOST)
        self._builtin("none", NULL)
        if self.config.bridge != "none":
            self._default_bridge()
        for net in self.store.all():
            if net.driver in (BRIDGE, MACVLAN):
                try:
                    self.driver(net.driver).ensure(net)
                except Exception as e:
                    log.error("cannot set up network %s: %s", net.name, e)
        self.publisher.set_networks(self._bridge_networks())

    def _builtin(self, name: str, driver: str) -> Network:
        for net in self.store.all():
            if net.builtin and net.name == name:
                return net
        net = Network(id=_new_id(), name=name, driver=driver, created=_now(), builtin=True)
        self.store.add(net)
        return net

    def _default_bridge(self) -> None:
        iface = ipaddress.ip_interface(self.config.bip)
        options = {OPT_DEFAULT_BRIDGE: "true", OPT_ICC: str(self.config.icc).lower(),
                   OPT_MASQ: str(self.config.ip_masq).lower(),
                   OPT_HOST_IP: self.config.default_bind_ip,
                   OPT_BRIDGE_NAME: self.config.bridge,
                   OPT_MTU: str(self.config.mtu or 1500)}
        for net in self.store.all():
            if net.builtin and net.name == "bridge":
                pool = net.pool()
                if net.interface != self.config.bridge or pool is None or \
                        pool.subnet != str(iface.network) or pool.gateway != str(iface.ip):
                    # daemon.json changed: the new settings win; leases go with the old.
                    with contextlib.suppress(Exception):
                        self.driver(BRIDGE).remove(net)
                    net.interface = self.config.bridge
                    net.pools = [Pool.plan(str(iface.network), str(iface.ip))]
                net.options = options
                self.store.save(net)
                return
        others = [p.subnet for n in self.store.all() for p in n.pools]
        clash = overlaps(str(iface.network), others)
        if clash:
            raise InvalidArgument(f"bip {self.config.bip} overlaps network subnet {clash}")
        net = Network(id=_new_id(), name="bridge", driver=BRIDGE, created=_now(),
                      builtin=True, interface=self.config.bridge, options=options,
                      pools=[Pool.plan(str(iface.network), str(iface.ip))])
        self.store.add(net)

    def _bridge_networks(self) -> list[Network]:
        return [n for n in self.store.all() if n.driver == BRIDGE]

    # -- create, inspect, list, remove, prune ----------------------------------------------

    def create(self, body: dict[str, Any]) -> tuple[Network, str]:
        name = body.get("Name")
        if not isinstance(name, str) or not name:
            raise InvalidArgument("network name is required")
        if name[0] in "_.-" or not set(name) <= _NAME_OK:
            raise InvalidArgument(f'invalid network name "{name}": only '
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if name in ("bridge", "host", "none"):
            raise Forbidden(f"operation is not permitted on predefined {name} network")
        driver = _text(body, "Driver") or BRIDGE
        if driver in (HOST, NULL):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        flags = {key: _flag(body, key) for key in ("Internal", "Attachable", "Ingress",
                                                   "EnableIPv6", "ConfigOnly",
                                                   "CheckDuplicate")}
        if body.get("EnableIPv4") is not None and _flag(body, "EnableIPv4") is False:
            raise Unsupported("networks without IPv4 are not supported by Cove")
        scope = _text(body, "Scope")
        if flags["Ingress"] or scope in ("swarm", "global"):
            raise Unsupported("swarm-scoped networks need swarm mode, which this node is not in")
        if scope not in ("", "local"):
            raise InvalidArgument(f'invalid Scope "{scope}": want "local"')
        config_from = body.get("ConfigFrom")
        if config_from is not None and not isinstance(config_from, dict):
            raise InvalidArgument("ConfigFrom must be an object")
        if flags["ConfigOnly"] or (config_from or {}).get("Network"):
            raise Unsupported("config-only networks are not supported by Cove")
        if flags["EnableIPv6"]:
            raise Unsupported("IPv6 networks are not supported by Cove yet")
        options = _string_map(body, "Options")
        labels = _string_map(body, "Labels")
        _check_bridge_options(options)
        ipam = body.get("IPAM") or {}
        if not isinstance(ipam, dict):
            raise InvalidArgument("IPAM must be an object")
        ipam_driver = _text(ipam, "Driver", "IPAM.Driver") or "default"
        if ipam_driver != "default":
            raise NotFound(f'plugin "{ipam_driver}" not found')
        configs = ipam.get("Config") or []
        if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
            raise InvalidArgument("IPAM.Config must be a list of objects")
        for c in configs:
            for key in ("Subnet", "IPRange", "Gateway"):
                _text(c, key, f"IPAM.Config {key}")
            aux = c.get("AuxiliaryAddresses")
            if aux is not None and (not isinstance(aux, dict) or not all(
                    isinstance(v, str) for v in aux.values())):
                raise InvalidArgument("IPAM.Config AuxiliaryAddresses must be an object of "
                                      "strings")
        net = Network(id=_new_id(), name=name, driver=driver, created=_now(),
                      internal=bool(flags["Internal"]),
                      attachable=bool(flags["Attachable"]), options=options,
                      labels=labels, ipam_driver=ipam_driver,
                      ipam_options=_string_map(ipam, "Options"))
        drv = self.driver(driver)
        with self.store.lock:
            if any(n.name == name for n in self.store.all()):
                raise Conflict(f"network with name {name} already exists")
            if driver != CNI:
                net.pools = [self._plan_pool(configs)]
                net.user_subnet = bool(configs)
            elif configs:
                raise InvalidArgument("a cni network takes its addresses from its "
                                      "configuration list's IPAM plugin, not from --subnet")
            if driver == BRIDGE:
                net.interface = options.get(OPT_BRIDGE_NAME) or f"cove-{net.id[:10]}"
                if any(n.interface == net.interface and n.driver == BRIDGE
                       for n in self.store.all()):
                    raise Conflict(f"bridge {net.interface} is already used by another "
                                   "network")
            elif driver == MACVLAN:
                net.interface = options.get("parent", "")
            drv.validate(net)
            self.store.add(net)
        try:
            drv.ensure(net)
            if driver == BRIDGE:
                self.publisher.set_networks(self._bridge_networks())
        except BaseException:
            with contextlib.suppress(Exception):
                drv.remove(net)
            self.store.remove(net)
            with contextlib.suppress(Exception):
                self.publisher.set_networks(self._bridge_networks())
            raise
        self._emit("create", net)
        return net, ""

    def _plan_pool(self, configs: list[dict[str, Any]]) -> Pool:
        v4 = []
        for c in configs:
            subnet = str(c.get("Subnet") or "")
            if subnet and ":" in subnet:
                raise Unsupported("IPv6 subnets are not supported by Cove yet")
            v4.append(c)
        if len(v4) > 1:
            raise Unsupported("Cove networks take one IPv4 subnet")
        others = [p.subnet for n in self.store.all() for p in n.pools]
        if v4:
            c = v4[0]
            if not c.get("Subnet"):
                if c.get("Gateway") or c.get("IPRange"):
                    raise InvalidArgument("a gateway or ip-range needs a subnet (--subnet)")
                subnet = self.config.pools.choose([*others, *self._host_routes()])
                return Pool.plan(subnet)
            pool = Pool.plan(str(c["Subnet"]), str(c.get("Gateway") or ""),
                             str(c.get("IPRange") or ""),
                             {str(k): str(v) for k, v in
                              (c.get("AuxiliaryAddresses") or {}).items()})
            clash = overlaps(pool.subnet, others)
            if clash:
                raise Forbidden("invalid pool request: Pool overlaps with other one on this "
                                f"address space ({pool.subnet} overlaps {clash})")
            return pool
        return Pool.plan(self.config.pools.choose([*others, *self._host_routes()]))

    def _host_routes(self) -> list[str]:
        """Subnets the host already routes elsewhere: a default pool must not shadow them."""
        own = {n.interface for n in self.store.all() if n.driver == BRIDGE}
        out = []
        with self.host_lock:
            routes = self.host.routes()
        for r in routes:
            dst = r.get("dst") or ""
            if dst and ":" not in dst and dst not in ("default", "0.0.0.0/0") and \
                    r.get("dev") not in own:
                out.append(dst)
        return out

    def get(self, ref: str) -> Network:
        try:
            return self.store.find(ref)
        except NotFound:
            net = self._cni_network_named(ref)
            if net is None:
                raise
            return net

    def _cni_network_named(self, name: str) -> Network | None:
        """A conflist in the CNI directory is a network by its name, as soon as it is used."""
        from cove.network.cni import CniNetworkNotFound, find_network
        if not name or not set(name) <= _NAME_OK:
            return None
        try:
            find_network(list(self.config.cni_config_dirs), name)
        except CniNetworkNotFound:
            return None
        # A file that does not parse is reported (it names itself), not taken for a
        # missing network.
        with contextlib.suppress(Conflict, NotFound):
            net, _ = self.create({"Name": name, "Driver": CNI})
            return net
        return self.store.find(name)

    def attached(self, net: Network) -> list[Container]:
        """Running containers with an endpoint on ``net``."""
        out = []
        for c in self.containers():
            sandbox = getattr(c, "sandbox", None) or {}
            if net.id in (sandbox.get("attachments") or {}):
                out.append(c)
        return out

    def members(self, net: Network) -> list[Container]:
        """Containers (running or not) that name ``net`` among their networks."""
        return [c for c in self.containers()
                if any(ep.get("NetworkID") == net.id for ep in (c.endpoints or {}).values())]

    def view(self, net: Network) -> dict[str, Any]:
        containers: dict[str, dict[str, Any]] = {}
        for c in self.attached(net):
            ep = _endpoint_of(c, net)
            if not ep:
                continue
            containers[c.id] = {
                "Name": c.name, "EndpointID": ep.get("EndpointID", ""),
                "MacAddress": ep.get("MacAddress", ""),
                "IPv4Address": f"{ep['IPAddress']}/{ep['IPPrefixLen']}"
                if ep.get("IPAddress") else "",
                "IPv6Address": ""}
        return net.to_api(containers)

    def matching(self, filters: dict[str, list[str]] | None = None) -> list[Network]:
        match = list_matcher(filters or {}, lambda n: bool(self.members(n)))
        return [n for n in self.store.all() if match(n)]

    def remove(self, ref: str) -> None:
        net = self.get(ref)
        if net.builtin:
            raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
        with self.store.lock:
            users = self.attached(net)
            if users:
                c = users[0]
                raise Forbidden(f"error while removing network: network {net.name} has "
                                f'active endpoints (name:"{c.name}" id:"{c.id[:12]}")')
            pool = net.pool()
            if self._attaching.get(net.id) or (pool is not None and pool.leases):
                raise Forbidden(f"error while removing network: network {net.name} has "
                                "active endpoints")
            self.store.remove(net)
        if net.driver == BRIDGE:
            self.publisher.set_networks(self._bridge_networks())
        with contextlib.suppress(NotFound):
            self.driver(net.driver).remove(net)
        self._emit("destroy", net)

    def prune(self, keep: Callable[[Network], bool], dry_run: bool = False) -> list[str]:
        """Remove custom networks no container uses; ``keep`` applies the filters."""
        gone = []
        for net in self.store.all():
            if net.builtin or keep(net) or self.members(net):
                continue
            if not dry_run:
                try:
                    self.remove(net.id)
                except Forbidden:
                    continue
            gone.append(net.name)
        return sorted(gone)

    # -- a container's networks ------------------------------------------------------------

    def plan_endpoints(self, host_config: dict[str, Any],
                       networking_config: dict[str, Any],
                       config: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """At container create: the networks it joins (NetworkSettings.Networks), checked."""
        mode = host_config.get("NetworkMode") or "default"
        if mode.startswith("container:"):
            return {}
        primary = "bridge" if mode == "default" else mode
        wanted = dict((networking_config or {}).get("EndpointsConfig") or {})
        if "default" in wanted:
            wanted.setdefault(primary, wanted.pop("default"))
        order = [primary] + [n for n in wanted if n != primary]
        out: dict[str, dict[str, Any]] = {}
        for ref in order:
            settings = wanted.get(ref) or {}
            if not isinstance(settings, dict):
                raise InvalidArgument(f"invalid endpoint settings for network {ref}")
            try:
                net = self.get(ref)
            except NotFound:
                # As Docker: the create succeeds and the start fails (404) while the
                # network is missing. (A 404 from create would also make the docker CLI
                # take it for a missing image and try to pull it.)
                out[ref] = self._endpoint_settings(None, settings)
                continue
            settings = settings or wanted.get(net.name) or wanted.get(net.id) or {}
            if net.driver in (HOST, NULL) and len(order) > 1:
                raise InvalidArgument(f"container cannot be connected to network {net.name} "
                                      "and to other networks")
            out[net.name] = self._endpoint_settings(net, settings,
                                                    str(config.get("MacAddress") or "")
                                                    if ref == primary else "")
        return out

    def _endpoint_settings(self, net: Network | None, settings: dict[str, Any],
                           mac: str = "") -> dict[str, Any]:
        """EndpointSettings checked (against ``net`` when it exists yet)."""
        ipam = settings.get("IPAMConfig") or {}
        if not isinstance(ipam, dict):
            raise InvalidArgument("IPAMConfig must be an object")
        ip = str(ipam.get("IPv4Address") or "")
        if ipam.get("IPv6Address"):
            raise Unsupported("IPv6 addresses are not supported by Cove yet")
        link_local = ipam.get("LinkLocalIPs") or []
        if not isinstance(link_local, list) or not all(isinstance(a, str) for a in link_local):
            raise InvalidArgument("LinkLocalIPs must be a list of strings")
        for address in link_local:
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                raise InvalidArgument(f"invalid link-local address {address!r}") from None
            if not isinstance(parsed, ipaddress.IPv4Address):
                raise Unsupported("IPv6 addresses are not supported by Cove yet")
        if net is None:
            if ip:
                try:
                    ipaddress.IPv4Address(ip)
                except ValueError:
                    raise InvalidArgument(f"invalid IPv4 address: {ip}") from None
        elif ip:
            if net.driver not in (BRIDGE, MACVLAN, CNI) or net.builtin:
                raise InvalidArgument("user specified IP address is supported on user "
                                      "defined networks only")
            if net.driver != CNI and not net.user_subnet:
                raise InvalidArgument("user specified IP address is supported only when "
                                      "connecting to networks with user configured subnets")
            pool = net.pool()
            try:
                addr = ipaddress.IPv4Address(ip)
            except ValueError:
                raise InvalidArgument(f"invalid IPv4 address: {ip}") from None
            if pool is not None and addr not in pool.network:
                raise InvalidArgument(f"invalid address {ip}: it does not belong to any of "
                                      f"this network's subnets ({pool.subnet})")
        aliases = settings.get("Aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidArgument("Aliases must be a list of strings")
        if aliases and net is not None and net.builtin:
            raise InvalidArgument("network-scoped alias is supported only for containers in "
                                  "user defined networks")
        driver_opts = settings.get("DriverOpts")
        if driver_opts is not None and (not isinstance(driver_opts, dict) or not all(
                isinstance(v, str) for v in driver_opts.values())):
            raise InvalidArgument("DriverOpts must be an object of strings")
        links = settings.get("Links") or []
        if not isinstance(links, list) or not all(isinstance(x, str) for x in links):
            raise InvalidArgument("Links must be a list of strings")
        from cove.engine.networks.links import parse_links
        parse_links(links)  # targets may come later: they are looked up at resolution
        mac = str(settings.get("MacAddress") or mac)
        if mac:
            _check_mac(mac)
        # The API schema has the lists and IPAMConfig as non-nullable: empty, not null.
        ipam_view: dict[str, Any] = {}
        if ip:
            ipam_view["IPv4Address"] = ip
        if link_local:
            ipam_view["LinkLocalIPs"] = list(link_local)
        # Aliases null when none were given, as Docker sends them (and docker-py checks).
        return {"IPAMConfig": ipam_view, "Links": list(links),
                "Aliases": list(aliases) or None, "MacAddress": mac,
                "DriverOpts": settings.get("DriverOpts") or None,
                "NetworkID": net.id if net is not None else "",
                **_RUNTIME_FIELDS, "DNSNames": []}

    def netns_path(self, cid: str) -> str:
        return os.path.join(self.netns_dir, cid)

    def setup(self, c: Container) -> str | None:
        """Before the container starts: its namespace and endpoints, published ports,
        resolver and /etc files. Returns the namespace to run in (None: not ours)."""
        mode = c.host_config.get("NetworkMode") or "default"
        if mode == HOST or mode.startswith("container:"):
            etc.write_shared(c, mode, self)
            return None
        from cove.linux.netns import create_netns
        started = time.perf_counter()
        path = self.netns_path(c.id)
        self.teardown(c)
        if not c.endpoints:
            c.endpoints = self.plan_endpoints(c.host_config, c.networking_config, c.config)
        create_netns(path)
        c.sandbox = {"key": path, "attachments": {}, "ports": []}
        try:
            first_route = True
            for i, (name, ep) in enumerate(list(c.endpoints.items())):
                net = self.store.find(str(ep.get("NetworkID") or name))
                if net.driver == NULL:
                    continue
                self._attach(c, net, ep, f"eth{i}", default_route=first_route and
                             not net.internal)
                first_route = first_route and net.internal
            self._publish(c)
            self._resolve_links(c)
            if self._wants_dns(c):
                self._dns_server().attach(c.id, path)
                c.sandbox["dns"] = True
            etc.write_files(c, self)
        except BaseException:
            with contextlib.suppress(Exception):
                self.teardown(c)
            raise
        log.debug("network setup of %s: %.1f ms", c.id[:12], (time.perf_counter() - started) * 1e3)
        return path

    def check_links(self, host_config: dict[str, Any]) -> None:
        """At create: every linked container exists (Docker's check, its words)."""
        from cove.engine.networks.links import parse_links
        mode = host_config.get("NetworkMode") or "default"
        links = parse_links(host_config.get("Links"))
        if links and mode.startswith("container:"):
            return  # the spec builder refuses this combination
        for link in links:
            if self.container(link.name) is None:
                raise InvalidArgument(f"could not get container for {link.name}")

    def _resolve_links(self, c: Container) -> None:
        """At start: the targets' addresses (they must run), the variables and hosts lines
        of default-bridge links, the aliases of user-network links."""
        from cove.engine.networks.links import link_env, parse_links
        links = parse_links(c.host_config.get("Links"))
        aliases: dict[str, str] = {}
        for ep in (c.endpoints or {}).values():
            # Per-network links (connect --link): aliases of names, whose containers
            # may come later; the resolver follows them when asked.
            for link in parse_links(ep.get("Links")):
                aliases[link.alias.lower()] = link.name.lower()
        c.sandbox["link_aliases"] = aliases
        if not links:
            return
        mine = c.sandbox.get("attachments") or {}
        env: list[str] = []
        hosts: list[str] = []
        for link in links:
            target = self.container(link.name)
            if target is None or not (getattr(target, "sandbox", None) or {}):
                raise Conflict(f"Cannot link to a non running container: /{link.name} AS "
                               f"/{c.name}/{link.alias}")
            theirs = target.sandbox.get("attachments") or {}
            shared = [nid for nid in mine if nid in theirs]
            if not shared:
                raise InvalidArgument(f"cannot link to /{target.name}: it is on none of "
                                      f"the networks of /{c.name}")
            net = self.store.find(shared[0])
            address = str(theirs[shared[0]].get("address") or "")
            if net.is_default_bridge:
                env += link_env(link, c.name, address,
                                sorted(target.config.get("ExposedPorts") or {}),
                                list(target.config.get("Env") or []))
                hosts.append(f"{address}\t{link.alias} {target.id[:12]} {target.name}")
            else:
                aliases[link.alias.lower()] = target.name.lower()
        c.sandbox["link_env"] = env
        c.sandbox["link_hosts"] = hosts
        c.sandbox["link_aliases"] = aliases

    def _wants_dns(self, c: Container) -> bool:
        for att in (c.sandbox.get("attachments") or {}).values():
            if att.get("dns"):
                return True
        return etc.needs_fallback_resolver(c, self)

    def _attach(self, c: Container, net: Network, ep: dict[str, Any], ifname: str,
                default_route: bool) -> None:
        drv = self.driver(net.driver)
        if net.driver in (BRIDGE, MACVLAN):
            drv.ensure(net)
        a = Attachment(container_id=c.id, netns=c.sandbox["key"], ifname=ifname,
                       endpoint_id=_new_id(), mac=str(ep.get("MacAddress") or ""),
                       default_route=default_route)
        requested = str((ep.get("IPAMConfig") or {}).get("IPv4Address") or "")
        pool = net.pool()
        with self.store.lock:
            if self.store.find(net.id) is not net:
                raise NotFound(f"network {net.name} not found")
            self._attaching[net.id] = self._attaching.get(net.id, 0) + 1
        try:
            self._attach_counted(c, net, ep, drv, a, requested, pool)
        finally:
            with self.store.lock:
                self._attaching[net.id] -= 1
                if not self._attaching[net.id]:
                    del self._attaching[net.id]

    def _attach_counted(self, c: Container, net: Network, ep: dict[str, Any], drv: Driver,
                        a: Attachment, requested: str, pool: Pool | None) -> None:
        if net.driver == CNI:
            a.address = requested
            if self._is_primary(c, net):
                mappings, bound = self.publisher.cni_mappings(c)
                if mappings:
                    a.capability_args["portMappings"] = mappings
                    c.sandbox["ports"] = bound
        else:
            assert pool is not None
            with self.store.lock:
                a.address = pool.allocate(a.endpoint_id, requested)
                self.store.save(net)
        try:
            drv.attach(net, a)
            link_local = (ep.get("IPAMConfig") or {}).get("LinkLocalIPs") or []
            if link_local:
                from cove.linux.netlink import Netlink
                with Netlink(a.netns) as inside:
                    for address in link_local:
                        inside.add_address(a.ifname, f"{address}/16")
        except BaseException:
            if pool is not None and net.driver != CNI:
                with self.store.lock:
                    pool.release_owner(a.endpoint_id)
                    self.store.save(net)
            raise
        c.sandbox["attachments"][net.id] = {
            "ifname": a.ifname, "endpoint_id": a.endpoint_id, "driver": net.driver,
            "address": a.address, "prefixlen": a.prefixlen, "gateway": a.gateway,
            "mac": a.mac, "dns": net.has_dns, "publishes_ports": a.publishes_ports,
            "state": drv.saved(a)}
        ep.update(EndpointID=a.endpoint_id, Gateway=a.gateway, IPAddress=a.address,
                  IPPrefixLen=a.prefixlen, MacAddress=a.mac, NetworkID=net.id,
                  DNSNames=self._dns_names(c, net, ep) if net.has_dns else [])
        self.dns_changed()

    def _is_primary(self, c: Container, net: Network) -> bool:
        for ep in (c.endpoints or {}).values():
            return ep.get("NetworkID") == net.id
        return False

    @staticmethod
    def _dns_names(c: Container, net: Network, ep: dict[str, Any]) -> list[str]:
        names = [c.name] if c.name else []
        names += [a for a in ep.get("Aliases") or [] if a not in names]
        names.append(c.id[:12])
        hostname = str(c.config.get("Hostname") or "")
        if hostname and hostname not in names:
            names.append(hostname)
        return names

    def _publish(self, c: Container) -> None:
        """Host ports for the container's published ports, on its first bridge network."""
        requests = port_requests(c.host_config, c.config)
        if not requests:
            return
        target = None
        for net_id, att in c.sandbox["attachments"].items():
            if att["driver"] == CNI and att.get("publishes_ports"):
                return
            if att["driver"] == BRIDGE and not self.store.find(net_id).internal:
                target = (self.store.find(net_id), att)
                break
        if target is None:
            return  # none, macvlan only: Docker publishes nothing either
        net, att = target
        c.sandbox["ports"] = self.publisher.publish(c.id, requests, att["address"],
                                                    net.interface, net.options)

    def teardown(self, c: Container) -> None:
        """After the container stopped (or a failed start): remove everything setup made."""
        sandbox = getattr(c, "sandbox", None) or {}
        started = time.perf_counter()
        path = str(sandbox.get("key") or self.netns_path(c.id))
        self.publisher.unpublish(c.id)
        if sandbox.get("dns") and self._dns is not None:
            with contextlib.suppress(Exception):
                self._dns.detach(c.id)
        for net_id, att in list((sandbox.get("attachments") or {}).items()):
            self._detach_one(c, net_id, att, path)
        from cove.linux.netns import remove_netns
        try:
            remove_netns(path)
        except Exception as e:
            log.warning("cannot remove the network namespace of %s: %s", c.id[:12], e)
        c.sandbox = {}
        self.dns_changed()
        for ep in (c.endpoints or {}).values():
            ep.update(_RUNTIME_FIELDS)
            ep["DNSNames"] = []
        if sandbox:
            log.debug("network teardown of %s: %.1f ms", c.id[:12],
                      (time.perf_counter() - started) * 1e3)

    def _detach_one(self, c: Container, net_id: str, att: dict[str, Any], path: str) -> None:
        try:
            net = self.store.find(net_id)
        except NotFound:
            net = None
        a = Attachment(container_id=c.id, netns=path, ifname=str(att.get("ifname")),
                       endpoint_id=str(att.get("endpoint_id")),
                       address=str(att.get("address") or ""),
                       host_ifname=str((att.get("state") or {}).get("host_ifname") or ""))
        driver_name = str(att.get("driver") or (net.driver if net else ""))
        try:
            if net is not None:
                self.driver(driver_name).detach(net, a, dict(att.get("state") or {}))
            elif driver_name == BRIDGE and a.host_ifname:
                with self.host_lock:
                    self.host.delete_link(a.host_ifname, missing_ok=True)
        except Exception as e:
            log.warning("cannot detach %s from network %s: %s", c.id[:12],
                        net.name if net else net_id[:12], e)
        if net is not None:
            pool = net.pool()
            if pool is not None and net.driver != CNI:
                with self.store.lock:
                    pool.release_owner(a.endpoint_id)
                    self.store.save(net)
        attachments = (getattr(c, "sandbox", None) or {}).get("attachments")
        if isinstance(attachments, dict):
            attachments.pop(net_id, None)
        self.dns_changed()

    # -- connect and disconnect ------------------------------------------------------------

    def connect(self, c: Container, ref: str, settings: dict[str, Any]) -> Network:
        """Add ``ref`` to the container's networks; attach now if it runs. The caller holds
        the container's lock and saves its record."""
        net = self.get(ref)
        mode = c.host_config.get("NetworkMode") or "default"
        if net.driver in (HOST, NULL) or mode in (HOST, "none") or \
                mode.startswith("container:"):
            raise Forbidden("container cannot be disconnected from host network or "
                            "connected to host network" if HOST in (net.driver, mode)
                            else "container sharing network namespace with another "
                            "container or host cannot be connected to any other network"
                            if mode.startswith("container:") else
                            "container cannot be connected to multiple networks with one "
                            "of the networks in private (none) mode")
        if any(ep.get("NetworkID") == net.id for ep in (c.endpoints or {}).values()):
            raise Forbidden(f"endpoint with name {c.name} already exists in network "
                            f"{net.name}")
        ep = self._endpoint_settings(net, settings or {})
        running = bool(getattr(c, "sandbox", None))
        if running:
            used = {att["ifname"] for att in c.sandbox["attachments"].values()}
            ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
            has_route = any(att.get("gateway") for att in c.sandbox["attachments"].values())
            self._attach(c, net, ep, ifname, default_route=not has_route and
                         not net.internal)
            if net.has_dns and not c.sandbox.get("dns"):
                self._dns_server().attach(c.id, c.sandbox["key"])
                c.sandbox["dns"] = True
        c.endpoints[net.name] = ep
        if running and ep.get("Links"):
            self._resolve_links(c)
        self.dns_changed()
        if running:
            with contextlib.suppress(Exception):
                etc.write_files(c, self)
        self._emit("connect", net, container=c.id)
        return net

    def disconnect(self, c: Container, ref: str, force: bool = False) -> Network:
        try:
            net = self.get(ref)
        except NotFound:
            if not force:
                raise
            for name in list(c.endpoints or {}):
                if name == ref:
                    del c.endpoints[name]
            raise
        name = ""
        for n, ep in (c.endpoints or {}).items():
            if ep.get("NetworkID") == net.id:
                name = n
                break
        if not name:
            raise Forbidden(f"container {c.id[:12]} is not connected to network {net.name}")
        if net.driver == HOST:
            raise Forbidden("container cannot be disconnected from host network or "
                            "connected to host network")
        sandbox = getattr(c, "sandbox", None) or {}
        att = (sandbox.get("attachments") or {}).get(net.id)
        if att is not None:
            self._detach_one(c, net.id, att, str(sandbox.get("key")))
            self.publisher.retarget(c)
        del c.endpoints[name]
        if sandbox:
            with contextlib.suppress(Exception):
                etc.write_files(c, self)
        self._emit("disconnect", net, container=c.id)
        return net

    # -- DNS -------------------------------------------------------------------------------

    def dns_changed(self) -> None:
        self.dns_generation += 1

    def _dns_server(self) -> Any:
        with self._dns_lock:
            if self._dns is None:
                from cove.engine.networks.resolver import ContainerRecords
                from cove.network.dns import DnsServer
                records = ContainerRecords(self)
                self._dns = DnsServer(records, records.upstreams)
            return self._dns

    # -- daemon start and stop -------------------------------------------------------------

    def reconcile(self, running: Callable[[Container], bool]) -> None:
        """After a daemon (re)start: keep what running containers use, remove the rest —
        namespaces, leases, published ports, resolvers."""
        keep: set[str] = set()
        for c in self.containers():
            sandbox = getattr(c, "sandbox", None) or {}
            if not sandbox:
                continue
            if running(c) and os.path.exists(str(sandbox.get("key"))):
                keep.add(c.id)
                self.publisher.restore(c.id, sandbox.get("ports") or [],
                                       self._port_target(c))
                if sandbox.get("dns"):
                    try:
                        self._dns_server().attach(c.id, str(sandbox["key"]))
                    except Exception as e:
                        log.warning("no resolver for %s: %s", c.id[:12], e)
            else:
                self.teardown(c)
                c.sandbox = {}
                self.save_container(c)
        leased = {att.get("endpoint_id") for c in self.containers()
                  for att in ((getattr(c, "sandbox", None) or {}).get("attachments") or {})
                  .values()}
        for net in self.store.all():
            pool = net.pool()
            if pool is None:
                continue
            stale = [a for a, owner in pool.leases.items() if owner not in leased]
            if stale:
                with self.store.lock:
                    for a in stale:
                        pool.release(a)
                    self.store.save(net)
        if os.path.isdir(os.path.join(self.store.dir, "cni-cache")):
            from cove.engine.networks.drivers.cni import CniDriver
            cni = self.driver(CNI)
            assert isinstance(cni, CniDriver)
            live = {(c.id, str(att.get("ifname"))) for c in self.containers()
                    for att in ((getattr(c, "sandbox", None) or {}).get("attachments")
                                or {}).values() if att.get("driver") == CNI}
            for net in self.store.all():
                if net.driver == CNI:
                    cni.collect(net, {(cid, ifname) for cid, ifname in live
                                      if self._attached_to(cid, net.id)})
            cni.sweep(live)
        from cove.linux.netns import remove_netns
        for entry in os.listdir(self.netns_dir):
            if entry not in keep:
                with contextlib.suppress(Exception):
                    remove_netns(os.path.join(self.netns_dir, entry))
        self.publisher.sync()

    def _attached_to(self, cid: str, net_id: str) -> bool:
        c = self.container(cid)
        sandbox = (getattr(c, "sandbox", None) or {}) if c is not None else {}
        return net_id in (sandbox.get("attachments") or {})

    def _port_target(self, c: Container) -> tuple[str, str]:
        for net_id, att in (c.sandbox.get("attachments") or {}).items():
            if att.get("driver") == BRIDGE:
                with contextlib.suppress(NotFound):
                    return str(att.get("address")), self.store.find(net_id).interface
        return "", ""

    def close(self) -> None:
        if self._dns is not None:
            with contextlib.suppress(Exception):
                self._dns.close()
        self.publisher.close()
        with contextlib.suppress(Exception):
            self.host.close()


def _endpoint_of(c: Container, net: Network) -> dict[str, Any] | None:
    for ep in (c.endpoints or {}).values():
        if ep.get("NetworkID") == net.id:
            return ep
    return None


def _string_map(body: dict[str, Any], key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{key} must be an object of strings")
    for k, v in value.items():
        if v is not None and not isinstance(v, str):
            raise InvalidArgument(f"invalid {key} {k!r}: the value must be a string")
    # A null decodes as "" (Go's map[string]string).
    return {str(k): v or "" for k, v in value.items()}


def _text(body: dict[str, Any], key: str, what: str = "") -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what or key} must be a string")
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgument(f"{key} must be true or false")
    return value


def _check_bridge_options(options: dict[str, str]) -> None:
    for key in (OPT_ICC, OPT_MASQ):
        if key in options and options[key] not in ("true", "false"):
            raise InvalidArgument(f'invalid {key} "{options[key]}": want true or false')
    if OPT_HOST_IP in options:
        try:
            ipaddress.IPv4Address(options[OPT_HOST_IP])
        except ValueError:
            raise InvalidArgument(f'invalid {OPT_HOST_IP} "{options[OPT_HOST_IP]}": want an '
                                  "IPv4 address") from None


def _check_mac(mac: str) -> None:
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(ch in "0123456789abcdefABCDEF"
                                                      for ch in p) for p in parts):
        raise InvalidArgument(f"invalid MAC address: {mac}")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"invalid MAC address {mac}: a multicast address")


__all__ = ["NetworkService", "PortRequest", "parse_subnet"]
