# ruff: noqa: N802  (row attribute names are the template field names docker documents)
"""Network verbs: network create, ls, inspect, rm, connect, disconnect.

(``network prune`` lives with the other prunes.) Flags, request bodies, output
and error wording follow the docker CLI (28): ``create`` pairs each --gateway,
--ip-range and --aux-address with the --subnet that holds it before asking the
daemon, ``ls`` sorts by name in docker's natural order, ``inspect`` executes a
template on the network as Go's typed struct prints it.
"""

from __future__ import annotations

from cove.cli.commands import check_filter, filters_json, for_each
from cove.cli.errors import CliError, DaemonError, UsageError
from cove.cli.flags import BOOL, INT, LIST, STRING, Flag, FlagSet, Options
from cove.cli.gotemplate import MISSING, NIL_MAP, NIL_SLICE, GoStruct, TemplateError
from cove.cli.transport import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from cove.cli.context import Context


# -- flag values ----------------------------------------------------------------------------


def _csv(text: str) -> list[str]:
    """A pflag ``strings`` value: comma-separated, each item one more value."""
    return text.split(",") if text else []


def _label(text: str) -> str:
    key = text.partition("=")[0].strip()
    if not key:
        raise ValueError(f"invalid label '{text}': empty name")
    if any(c in key for c in " \t\n\v\f\r"):
        raise ValueError(f"label '{key}' contains whitespaces")
    return text


def _link(text: str) -> str:
    if not text:
        raise ValueError("empty string specified for links")
    if text.count(":") > 1:
        raise ValueError(f"bad format for links: {text}")
    return text


def _pairs(items: list[str]) -> dict[str, str]:
    """docker's map flags (-o, --ipam-opt, --aux-address): ``k=v``, a bare ``k`` is empty."""
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _flatten(items: list[list[str]]) -> list[str]:
    return [x for chunk in items for x in chunk]


# -- create ---------------------------------------------------------------------------------


CREATE = FlagSet("cove network create", "[OPTIONS] NETWORK", "Create a network", [
    Flag("attachable", "", BOOL, help="Enable manual container attachment"),
    Flag("aux-address", "", LIST, metavar="map",
         help="Auxiliary IPv4 or IPv6 addresses used by Network driver"),
    Flag("config-from", "", STRING, help="The network from which to copy the configuration"),
    Flag("config-only", "", BOOL, help="Create a configuration only network"),
    Flag("driver", "d", STRING, default="bridge", help="Driver to manage the Network"),
    Flag("gateway", "", LIST, metavar="strings", convert=_csv,
         help="IPv4 or IPv6 Gateway for the master subnet"),
    Flag("ingress", "", BOOL, help="Create swarm routing-mesh network"),
    Flag("internal", "", BOOL, help="Restrict external access to the network"),
    Flag("ip-range", "", LIST, metavar="strings", convert=_csv,
         help="Allocate container ip from a sub-range"),
    Flag("ipam-driver", "", STRING, default="default", help="IP Address Management Driver"),
    Flag("ipam-opt", "", LIST, metavar="map", help="Set IPAM driver specific options"),
    Flag("ipv4", "", BOOL, default=True, help="Enable or disable IPv4 address assignment"),
    Flag("ipv6", "", BOOL, help="Enable or disable IPv6 address assignment"),
    Flag("label", "", LIST, convert=_label, help="Set metadata on a network"),
    Flag("opt", "o", LIST, metavar="map", help="Set driver specific options"),
    Flag("scope", "", STRING, help="Control the network's scope"),
    Flag("subnet", "", LIST, metavar="strings", convert=_csv,
         help="Subnet in CIDR format that represents a network segment"),
], min_args=1, max_args=1)


class _GoNet:
    """Go's net.ParseCIDR / net.ParseIP, as far as the CLI's subnet matching needs them."""

    @staticmethod
    def parse_cidr(text: str) -> Any:
        import ipaddress

        addr, slash, bits = text.partition("/")
        try:
            # Go's dtoi: ASCII digits, leading zeros allowed
            if not slash or not bits or any(c not in "0123456789" for c in bits):
                raise ValueError(text)
            return ipaddress.ip_network(f"{ipaddress.ip_address(addr)}/{int(bits)}",
                                        strict=False)
        except ValueError:
            raise CliError(f"invalid CIDR address: {text}") from None

    @staticmethod
    def parse_ip(text: str) -> Any:
        import ipaddress

        try:
            return ipaddress.ip_address(text)
        except ValueError:
            return None

    @classmethod
    def subnet_matches(cls, subnet: str, data: str) -> bool:
        """docker's subnetMatches: is ``data`` (an address or a CIDR's address) in ``subnet``?"""
        try:
            network = cls.parse_cidr(subnet)
        except CliError as e:
            raise CliError(f"invalid subnet: {e.message}") from None
        if "/" in data:
            cls.parse_cidr(data)  # an error names data itself, without "invalid subnet"
            ip = cls.parse_ip(data.partition("/")[0])
        else:
            ip = cls.parse_ip(data)
        if ip is None or ip.version != network.version:
            return False
        return bool(ip in network)


def ipam_config(subnets: list[str], ip_ranges: list[str], gateways: list[str],
                aux_addresses: dict[str, str]) -> list[dict[str, Any]]:
    """IPAM.Config from the flags, each range/gateway/aux address on its subnet (docker's rules).

    Raises CliError with docker's words. Entries keep the subnets' order (docker's
    follow Go's map order, which is random).
    """
    if len(subnets) < len(ip_ranges) or len(subnets) < len(gateways):
        raise CliError("every ip-range or gateway must have a corresponding subnet")
    match = _GoNet.subnet_matches
    configs: dict[str, dict[str, Any]] = {}
    for subnet in subnets:
        for known in configs:
            if match(subnet, known) or match(known, subnet):
                raise CliError("multiple overlapping subnet configuration is not supported")
        configs[subnet] = {"Subnet": subnet}
    for ip_range in ip_ranges:
        found = False
        for subnet in subnets:
            _GoNet.parse_cidr(ip_range)
            if not match(subnet, ip_range):
                continue
            if "IPRange" in configs[subnet]:
                raise CliError(f"cannot configure multiple ranges ({ip_range}, "
                               f"{configs[subnet]['IPRange']}) on the same subnet ({subnet})")
            configs[subnet]["IPRange"] = ip_range
            found = True
        if not found:
            raise CliError(f"no matching subnet for range {ip_range}")
    for gateway in gateways:
        found = False
        for subnet in subnets:
            if not match(subnet, gateway):
                continue
            if "Gateway" in configs[subnet]:
                raise CliError(f"cannot configure multiple gateways ({gateway}, "
                               f"{configs[subnet]['Gateway']}) for the same subnet ({subnet})")
            configs[subnet]["Gateway"] = gateway
            found = True
        if not found:
            raise CliError(f"no matching subnet for gateway {gateway}")
    for key, address in aux_addresses.items():
        found = False
        for subnet in subnets:
            if match(subnet, address):
                configs[subnet].setdefault("AuxiliaryAddresses", {})[key] = address
                found = True
        if not found:
            raise CliError(f"no matching subnet for aux-address {address}")
    return list(configs.values())


def build_create_body(opts: Options, name: str) -> dict[str, Any]:
    """The POST /networks/create body docker sends for these options (same keys, same order)."""
    config = ipam_config(_flatten(opts.list("subnet")), _flatten(opts.list("ip_range")),
                         _flatten(opts.list("gateway")), _pairs(opts.list("aux_address")))
    body: dict[str, Any] = {"Driver": opts.str("driver"), "Scope": opts.str("scope")}
    if opts.is_set("ipv4"):
        body["EnableIPv4"] = opts.bool("ipv4")
    if opts.is_set("ipv6"):
        body["EnableIPv6"] = opts.bool("ipv6")
    body["IPAM"] = {"Driver": opts.str("ipam_driver"), "Options": _pairs(opts.list("ipam_opt")),
                    "Config": config}
    body.update({
        "Internal": opts.bool("internal"), "Attachable": opts.bool("attachable"),
        "Ingress": opts.bool("ingress"), "ConfigOnly": opts.bool("config_only"),
        "ConfigFrom": ({"Network": opts.str("config_from")} if opts.str("config_from")
                       else None),
        "Options": _pairs(opts.list("opt")), "Labels": _pairs(opts.list("label")),
        "Name": name,
    })
    return body


def cmd_network_create(ctx: Context, argv: list[str]) -> int:
    opts, (name,) = CREATE.parse(argv)
    answer = ctx.client.post_json("/networks/create", None, build_create_body(opts, name)) or {}
    ctx.out(f"{answer.get('Id', '')}\n")
    return 0


# -- ls -------------------------------------------------------------------------------------


def natural_key(text: str) -> list[tuple[int, int, bytes, int]]:
    """A sort key giving sortorder.NaturalLess's order (docker sorts networks with it).

    Bytes compare as bytes; a run of digits is one number, sorted before any
    other byte, by value, then by fewer leading zeros.
    """
    data = text.encode("utf-8")
    key: list[tuple[int, int, bytes, int]] = []
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if 0x30 <= c <= 0x39:
            start = i
            while i < n and data[i] == 0x30:
                i += 1
            nonzero = i
            while i < n and 0x30 <= data[i] <= 0x39:
                i += 1
            digits = data[nonzero:i]
            key.append((0, len(digits), digits, nonzero - start))
        else:
            key.append((1, c, b"", 0))
            i += 1
    return key


def go_time_string(text: str) -> str:
    """Go's ``time.Time.String()`` of an RFC 3339 time as docker decodes it.

    ``2024-01-02 15:04:05.5 +0000 UTC``; an offset other than zero keeps its
    number as the zone's name (``+0100 +0100``) unless it is the local zone's.
    """
    if not text:
        return "0001-01-01 00:00:00 +0000 UTC"
    date, _, rest = text.partition("T")
    if not rest:
        return text
    zone = "Z"
    for sep in ("Z", "z", "+", "-"):
        idx = rest.find(sep)
        if idx >= 0:
            rest, zone = rest[:idx], rest[idx:]
            break
    clock, _, frac = rest.partition(".")
    frac = frac.rstrip("0")
    stamp = f"{date} {clock}" + (f".{frac}" if frac else "")
    if zone in ("Z", "z", "+00:00", "-00:00"):
        return f"{stamp} +0000 UTC"
    offset = zone.replace(":", "")
    import time

    try:
        local = time.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S")
        local_zone = time.localtime(time.mktime(local))
        if time.strftime("%z", local_zone) == offset:
            return f"{stamp} {offset} {time.strftime('%Z', local_zone)}"
    except (ValueError, OverflowError):
        pass
    return f"{stamp} {offset} {offset}"


class NetworkRow:
    """One ``docker network ls`` row from a network summary."""

    HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
               "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
               "CreatedAt": "CREATED AT"}
    DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
    RAW = "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n"

    def __init__(self, network: dict[str, Any], trunc: bool = True) -> None:
        self._n = network
        ident = str(network.get("Id", ""))
        self.ID = ident[:12] if trunc else ident
        self.Name = str(network.get("Name", ""))
        self.Driver = str(network.get("Driver", ""))
        self.Scope = str(network.get("Scope", ""))

    @property
    def IPv4(self) -> str:
        return "true" if self._n.get("EnableIPv4") else "false"

    @property
    def IPv6(self) -> str:
        return "true" if self._n.get("EnableIPv6") else "false"

    @property
    def Internal(self) -> str:
        return "true" if self._n.get("Internal") else "false"

    @property
    def Labels(self) -> str:
        # docker joins in Go's map order (random); sorted is one of its orders
        labels = self._n.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def Label(self, key: str) -> str:
        return str((self._n.get("Labels") or {}).get(key, ""))

    @property
    def CreatedAt(self) -> str:
        return go_time_string(str(self._n.get("Created") or ""))

    def to_json(self) -> dict[str, str]:
        keys = ("CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name",
                "Scope")
        return {k: getattr(self, k) for k in keys}


def _listing(fmt: str) -> Any:
    from cove.cli.tables import ListFormat

    return ListFormat(fmt, NetworkRow.DEFAULT, NetworkRow.HEADERS, NetworkRow({}))


LS = FlagSet("cove network ls", "[OPTIONS]", "List networks", [
    Flag("filter", "f", LIST, metavar="filter", convert=check_filter,
         help='Provide filter values (e.g. "driver=bridge")'),
    Flag("format", "", STRING, help="Format output using a custom template"),
    Flag("no-trunc", "", BOOL, help="Do not truncate the output"),
    Flag("quiet", "q", BOOL, help="Only display network IDs"),
], max_args=0)


def _ls_template(fmt: str, quiet: bool) -> str:
    """docker's choice: -q replaces only the table (and raw) layout, not a custom template."""
    if fmt in ("", "table"):
        return "{{.ID}}" if quiet else NetworkRow.DEFAULT
    if fmt == "raw":
        return "network_id: {{.ID}}" if quiet else NetworkRow.RAW
    return fmt


def cmd_network_ls(ctx: Context, argv: list[str]) -> int:
    opts, _ = LS.parse(argv)
    try:
        filters_text = filters_json(list(opts.list("filter")))
    except ValueError as e:
        raise UsageError(str(e), LS.command) from None
    trunc = not opts.bool("no_trunc")
    listing = _listing(_ls_template(opts.str("format"), opts.bool("quiet")))
    networks = ctx.client.get_json("/networks", {"filters": filters_text}) or []
    networks.sort(key=lambda n: natural_key(str(n.get("Name", ""))))
    ctx.out(listing.render(NetworkRow(n, trunc) for n in networks))
    return 0


# -- inspect --------------------------------------------------------------------------------


class GoTime:
    """A time.Time field: prints as Go's String(), marshals back to its RFC 3339 text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return go_time_string(self.text)

    def to_json(self) -> str:
        return self.text


class _Struct(GoStruct):
    """A Go struct docker executes the template on, with its raw-map fallback's rule.

    An absent field reads as its zero value; a name the struct lacks makes docker
    retry on the raw JSON with ``missingkey=error``, so ``get`` with the
    template's MISSING default raises that error.
    """

    def __init__(self) -> None:
        super().__init__()
        self.zeros: dict[str, Any] = {}
        self.aliases: dict[str, str] = {}  # Go field name -> its JSON name ("ID" -> "Id")

    def get(self, key: Any, default: Any = None) -> Any:
        if default is MISSING:  # a template's field lookup: Go's names only
            if key in self.aliases:
                key = self.aliases[key]
            elif key in self.aliases.values():
                raise _NotAField(key)
        if key in self:
            return dict.get(self, key)
        if key in self.zeros:
            return self.zeros[key]
        if default is MISSING:
            raise _NotAField(key)
        return default


class _NotAField(TemplateError):
    def __init__(self, key: str) -> None:
        super().__init__(f"can't evaluate field {key} in type network.Inspect")


class _RawMap(dict):  # type: ignore[type-arg]
    """The raw JSON docker falls back to, executed with ``missingkey=error``."""

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return dict.get(self, key)
        if default is MISSING:
            raise TemplateError(f'map has no entry for key "{key}"')
        return default


def raw_network(value: Any) -> Any:
    if isinstance(value, dict):
        return _RawMap((k, raw_network(v)) for k, v in value.items())
    if isinstance(value, list):
        return [raw_network(v) for v in value]
    return value


_OMIT = True  # json:",omitempty": an absent field stays out of {{json}}
# struct -> (JSON field, zero value, omitempty), in Go's field order
_STRUCTS: dict[str, tuple[tuple[str, Any, bool], ...]] = {
    "Inspect": (("Name", "", False), ("Id", "", False), ("Created", None, False),
                ("Scope", "", False), ("Driver", "", False), ("EnableIPv4", False, False),
                ("EnableIPv6", False, False), ("IPAM", None, False), ("Internal", False, False),
                ("Attachable", False, False), ("Ingress", False, False),
                ("ConfigFrom", None, False), ("ConfigOnly", False, False),
                ("Containers", NIL_MAP, False), ("Options", NIL_MAP, False),
                ("Labels", NIL_MAP, False), ("Peers", NIL_SLICE, _OMIT),
                ("Services", NIL_MAP, _OMIT)),
    "IPAM": (("Driver", "", False), ("Options", NIL_MAP, False), ("Config", NIL_SLICE, False)),
    "IPAMConfig": (("Subnet", "", _OMIT), ("IPRange", "", _OMIT), ("Gateway", "", _OMIT),
                   ("AuxiliaryAddresses", NIL_MAP, _OMIT)),
    "ConfigFrom": (("Network", "", False),),
    "EndpointResource": (("Name", "", False), ("EndpointID", "", False),
                         ("MacAddress", "", False), ("IPv4Address", "", False),
                         ("IPv6Address", "", False)),
    "PeerInfo": (("Name", "", False), ("IP", "", False)),
}


def _struct(kind: str, value: Any) -> _Struct:
    doc = value if isinstance(value, dict) else {}
    out = _Struct()
    fields = _STRUCTS[kind]
    out.fields = tuple(name for name, _, _ in fields)
    for name, zero, omitempty in fields:
        if name in ("IPAM", "ConfigFrom"):  # nested structs: never nil
            out[name] = doc.get(name)
            continue
        item = doc.get(name)
        if item is None:
            out.zeros[name] = zero
            if name in doc or not omitempty:
                out[name] = zero
        else:
            out[name] = item
    for name, item in doc.items():  # fields of a newer API than this table
        out.setdefault(name, item)
    return out


def typed_network(doc: Any) -> Any:
    """A network inspect document as docker's template sees the Go struct."""
    if not isinstance(doc, dict):
        return doc
    net = _struct("Inspect", doc)
    net.aliases["ID"] = "Id"
    net["Created"] = GoTime(str(doc.get("Created") or "0001-01-01T00:00:00Z"))
    ipam = _struct("IPAM", net["IPAM"])
    if isinstance(ipam["Config"], list):
        ipam["Config"] = [_struct("IPAMConfig", c) for c in ipam["Config"]]
    net["IPAM"] = ipam
    net["ConfigFrom"] = _struct("ConfigFrom", net["ConfigFrom"])
    if isinstance(net["Containers"], dict):
        net["Containers"] = {k: _struct("EndpointResource", v)
                             for k, v in net["Containers"].items()}
    if isinstance(net.get("Peers"), list):
        net["Peers"] = [_struct("PeerInfo", p) for p in net["Peers"]]
    return net


INSPECT = FlagSet("cove network inspect", "[OPTIONS] NETWORK [NETWORK...]",
                  "Display detailed information on one or more networks", [
                      Flag("format", "f", STRING,
                           help="Format output using a custom template"),
                      Flag("verbose", "v", BOOL, help="Verbose output for diagnostics"),
                  ], min_args=1)


def cmd_network_inspect(ctx: Context, argv: list[str]) -> int:
    opts, names = INSPECT.parse(argv)
    fmt = opts.str("format")
    template = None
    if fmt and fmt != "json":
        from cove.cli.tables import parse_template
        template = parse_template(fmt)
    query = {"verbose": "true"} if opts.bool("verbose") else None
    found: list[Any] = []
    shown: list[str] = []

    def inspect(name: str) -> None:
        doc = ctx.client.get_json(f"/networks/{quote(name, safe='')}", query)
        if template is None:
            found.append(doc)
            return
        try:
            shown.append(template.execute(typed_network(doc)) + "\n")
            return
        except TemplateError:
            pass  # docker tries the raw JSON next (Go's struct lacks swarm's extra fields)
        try:
            shown.append(template.execute(raw_network(doc)) + "\n")
        except TemplateError as e:
            raise CliError(f"template parsing error: {e.message}") from None

    code = _report_after(ctx, names, inspect)
    if template is not None:
        ctx.out("".join(shown) or "\n")  # docker flushes an empty line when nothing printed
    elif fmt == "json":
        from cove.cli.gotemplate import to_json

        ctx.out(to_json(found) + "\n")
    else:
        import json

        ctx.out(json.dumps(found, indent=4, ensure_ascii=False) + "\n")
    return code


def _report_after(ctx: Context, names: list[str], action: Callable[[str], None]) -> int:
    """docker's inspect: every name tried, the output flushed, then the errors, exit 1."""
    errors: list[str] = []
    for name in names:
        try:
            action(name)
        except CliError as e:
            errors.append(str(e))
    if errors:
        # the errors follow the output, as docker prints them
        ctx.stdout.flush()
        ctx.err("\n".join(errors) + "\n")
        return 1
    return 0


# -- rm -------------------------------------------------------------------------------------


RM = FlagSet("cove network rm", "NETWORK [NETWORK...]", "Remove one or more networks", [
    Flag("force", "f", BOOL, help="Do not error if the network does not exist"),
], min_args=1)


def cmd_network_rm(ctx: Context, argv: list[str]) -> int:
    opts, names = RM.parse(argv)
    force = opts.bool("force")

    def remove(name: str) -> str | None:
        try:
            ctx.client.call("DELETE", f"/networks/{quote(name, safe='')}")
        except DaemonError as e:
            if force and e.status == 404:
                return None
            raise
        return name

    if for_each(ctx, names, remove):
        raise CliError("exit status 1")  # docker's closing line after the per-name errors
    return 0


# -- connect / disconnect -------------------------------------------------------------------


CONNECT = FlagSet("cove network connect", "[OPTIONS] NETWORK CONTAINER",
                  "Connect a container to a network", [
                      Flag("alias", "", LIST, metavar="strings", convert=_csv,
                           help="Add network-scoped alias for the container"),
                      Flag("driver-opt", "", LIST, metavar="strings", convert=_csv,
                           help="driver options for the network"),
                      Flag("gw-priority", "", INT, help="Highest gw-priority provides the "
                           "default gateway. Accepts positive and negative values."),
                      Flag("ip", "", STRING, help='IPv4 address (e.g., "172.30.100.104")'),
                      Flag("ip6", "", STRING, help='IPv6 address (e.g., "2001:db8::33")'),
                      Flag("link", "", LIST, convert=_link,
                           help="Add link to another container"),
                      Flag("link-local-ip", "", LIST, metavar="strings", convert=_csv,
                           help="Add a link-local address for the container"),
                  ], min_args=2, max_args=2)


def _driver_opts(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise CliError("invalid key/value pair format in driver options")
        out[key] = value.strip()
    return out


def build_connect_body(opts: Options, container: str) -> dict[str, Any]:
    """The POST /networks/{id}/connect body docker sends (its EndpointSettings, all keys)."""
    ipam: dict[str, Any] = {}
    if opts.str("ip"):
        ipam["IPv4Address"] = opts.str("ip")
    if opts.str("ip6"):
        ipam["IPv6Address"] = opts.str("ip6")
    link_local = _flatten(opts.list("link_local_ip"))
    if link_local:
        ipam["LinkLocalIPs"] = link_local
    endpoint: dict[str, Any] = {
        "IPAMConfig": ipam, "Links": list(opts.list("link")) or None,
        "Aliases": _flatten(opts.list("alias")), "MacAddress": "",
        "DriverOpts": _driver_opts(_flatten(opts.list("driver_opt"))),
        "GwPriority": opts.int("gw_priority"), "NetworkID": "", "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }
    return {"Container": container, "EndpointConfig": endpoint}


def cmd_network_connect(ctx: Context, argv: list[str]) -> int:
    opts, (network, container) = CONNECT.parse(argv)
    body = build_connect_body(opts, container)
    ctx.client.post_json(f"/networks/{quote(network, safe='')}/connect", None, body)
    return 0


DISCONNECT = FlagSet("cove network disconnect", "[OPTIONS] NETWORK CONTAINER",
                     "Disconnect a container from a network", [
                         Flag("force", "f", BOOL,
                              help="Force the container to disconnect from a network"),
                     ], min_args=2, max_args=2)


def cmd_network_disconnect(ctx: Context, argv: list[str]) -> int:
    opts, (network, container) = DISCONNECT.parse(argv)
    ctx.client.post_json(f"/networks/{quote(network, safe='')}/disconnect", None,
                         {"Container": container, "Force": opts.bool("force")})
    return 0
