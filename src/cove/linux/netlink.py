"""A small rtnetlink (NETLINK_ROUTE) client: links, addresses, routes, bridge ports.

The engine sets up container networking with it instead of pyroute2 or ``ip``
subprocesses: one socket per :class:`Netlink`, one request and its ack per call.
Every request carries ``NLM_F_ACK`` and is answered by an error message (0 = success)
with the same sequence number; dumps end with ``NLMSG_DONE``. Replies to other
sequence numbers (left over from an interrupted call) are skipped.

A netlink socket stays bound to the network namespace it was created in, so
``Netlink(netns=...)`` creates its socket from a short-lived thread inside that
namespace and then works on it from any thread.

Wire formats (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h): a message is an
``nlmsghdr`` then a family header (``ifinfomsg``, ``ifaddrmsg``, ``rtmsg``) then
attributes, each ``rtattr`` (len, type) padded to 4 bytes; nested attributes are
attributes inside an attribute's payload.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

from cove.errors import AlreadyExists, InvalidArgument, NotFound, SyscallError
from cove.linux.netns import open_netns, run_in_netns

log = logging.getLogger(__name__)

# linux/netlink.h
_NLMSG_NOOP = 1
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_NLM_F_DUMP = 0x300
_NLM_F_EXCL = 0x200
_NLM_F_CREATE = 0x400
_NLM_F_ACK_TLVS = 0x200  # on an error message: extended-ack attributes follow
_NLMSGERR_ATTR_MSG = 1
_SOL_NETLINK = 270
_NETLINK_CAP_ACK = 10  # errors do not echo our whole request back
_NETLINK_EXT_ACK = 11  # errors carry the kernel's explanation
_NLA_F_NESTED = 0x8000
_NLA_TYPE_MASK = 0x3FFF

# linux/rtnetlink.h
_RTM_NEWLINK = 16
_RTM_DELLINK = 17
_RTM_GETLINK = 18
_RTM_SETLINK = 19
_RTM_NEWADDR = 20
_RTM_DELADDR = 21
_RTM_GETADDR = 22
_RTM_NEWROUTE = 24
_RTM_DELROUTE = 25
_RTM_GETROUTE = 26
_RTEXT_FILTER_SKIP_STATS = 1 << 3
_RT_TABLE_MAIN = 254
_RTPROT_BOOT = 3
_RT_SCOPE_UNIVERSE = 0
_RT_SCOPE_LINK = 253
_RT_SCOPE_NOWHERE = 255
_RTN_UNICAST = 1
_RTA_DST = 1
_RTA_OIF = 4
_RTA_GATEWAY = 5
_RTA_TABLE = 15

# linux/if_link.h
_IFLA_ADDRESS = 1
_IFLA_IFNAME = 3
_IFLA_MTU = 4
_IFLA_LINK = 5
_IFLA_MASTER = 10
_IFLA_PROTINFO = 12
_IFLA_LINKINFO = 18
_IFLA_NET_NS_FD = 28
_IFLA_EXT_MASK = 29
_IFLA_INFO_KIND = 1
_IFLA_INFO_DATA = 2
_VETH_INFO_PEER = 1
_IFLA_MACVLAN_MODE = 1
_MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}
_IFLA_BRPORT_MODE = 4  # hairpin
_IFLA_BRPORT_ISOLATED = 33
_IFF_UP = 0x1

# linux/if_addr.h
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_IFA_BROADCAST = 4

_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table,
#                                       protocol, scope, type, flags
_RTA = struct.Struct("=HH")  # rtattr: len, type
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")

# Large enough for any single rtnetlink message the kernel sends us; MSG_TRUNC tells if not.
_RECV_SIZE = 1 << 17


class NetlinkError(SyscallError):
    """A netlink request failed; ``errno`` is the kernel's answer."""


class NetlinkNotFound(NetlinkError, NotFound):
    """The link, address or route the request named does not exist."""


class NetlinkExists(NetlinkError, AlreadyExists):
    """A link, address or route with that name or value already exists."""


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str  # "veth", "bridge", "macvlan"...; "" for lo and physical devices
    master: int  # index of the bridge it is enslaved to, 0 if none
    mac: str  # "aa:bb:cc:dd:ee:ff", "" if the device has none
    mtu: int
    up: bool  # administratively up (IFF_UP)


class Netlink:
    """One NETLINK_ROUTE socket in one network namespace (the caller's, or ``netns``)."""

    def __init__(self, netns: str | int | None = None) -> None:
        self._sock = _open_socket() if netns is None else run_in_netns(netns, _open_socket)
        self._seq = 0
        self._lock = threading.Lock()  # one request in flight: replies are read in order
        self._buf = bytearray(_RECV_SIZE)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- links --------------------------------------------------------------------------

    def links(self) -> list[Link]:
        payload = _ifinfo() + _u32(_IFLA_EXT_MASK, _RTEXT_FILTER_SKIP_STATS)
        return [_link(body) for kind, body in
                self._request(_RTM_GETLINK, _NLM_F_DUMP, payload, "list links")
                if kind == _RTM_NEWLINK]

    def link(self, name: str) -> Link | None:
        payload = (_ifinfo() + _str(_IFLA_IFNAME, name)
                   + _u32(_IFLA_EXT_MASK, _RTEXT_FILTER_SKIP_STATS))
        try:
            replies = self._request(_RTM_GETLINK, 0, payload, f'get link "{name}"')
        except NetlinkNotFound:
            return None
        return next((_link(body) for kind, body in replies if kind == _RTM_NEWLINK), None)

    def index(self, name: str) -> int:
        found = self.link(name)
        if found is None:
            raise NetlinkNotFound(f'link "{name}" not found', errno.ENODEV)
        return found.index

    def add_bridge(self, name: str, *, mtu: int | None = None) -> int:
        payload = (_ifinfo() + _str(_IFLA_IFNAME, name) + _opt_u32(_IFLA_MTU, mtu)
                   + _attr(_IFLA_LINKINFO, _str(_IFLA_INFO_KIND, "bridge")))
        self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, payload,
                      f'create bridge "{name}"')
        return self.index(name)

    def add_veth(self, name: str, peer: str, *, peer_netns: int | str | None = None,
                 mtu: int | None = None, peer_mac: str | None = None) -> None:
        """Create a veth pair; the peer is made directly inside ``peer_netns`` when given,
        so a peer named ``eth0`` never meets the host's names."""
        with _netns_fd(peer_netns) as fd:
            peer_info = (_ifinfo() + _str(_IFLA_IFNAME, peer) + _opt_u32(_IFLA_MTU, mtu)
                         + _opt_mac(peer_mac) + _opt_u32(_IFLA_NET_NS_FD, fd))
            payload = (_ifinfo() + _str(_IFLA_IFNAME, name) + _opt_u32(_IFLA_MTU, mtu)
                       + _attr(_IFLA_LINKINFO, _str(_IFLA_INFO_KIND, "veth")
                               + _attr(_IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_info))))
            self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, payload,
                          f'create veth "{name}" (peer "{peer}")')

    def add_macvlan(self, name: str, parent: str, *, mode: str = "bridge",
                    netns: int | str | None = None, mac: str | None = None,
                    mtu: int | None = None) -> None:
        """Create a macvlan on ``parent``, moved into ``netns`` by the same request."""
        if mode not in _MACVLAN_MODES:
            raise InvalidArgument(f'invalid macvlan mode "{mode}" for "{name}": want one of '
                                  + ", ".join(_MACVLAN_MODES))
        what = f'create macvlan "{name}" on "{parent}"'
        parent_link = self.link(parent)
        if parent_link is None:
            raise NetlinkNotFound(f'cannot {what}: link "{parent}" not found', errno.ENODEV)
        with _netns_fd(netns) as fd:
            payload = (_ifinfo() + _str(_IFLA_IFNAME, name) + _u32(_IFLA_LINK, parent_link.index)
                       + _opt_u32(_IFLA_MTU, mtu) + _opt_mac(mac) + _opt_u32(_IFLA_NET_NS_FD, fd)
                       + _attr(_IFLA_LINKINFO, _str(_IFLA_INFO_KIND, "macvlan")
                               + _attr(_IFLA_INFO_DATA,
                                       _u32(_IFLA_MACVLAN_MODE, _MACVLAN_MODES[mode]))))
            self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, payload, what)

    def delete_link(self, name: str, *, missing_ok: bool = False) -> None:
        """Delete a link (a veth's peer goes with it)."""
        try:
            self._request(_RTM_DELLINK, 0, _ifinfo() + _str(_IFLA_IFNAME, name),
                          f'delete link "{name}"')
        except NetlinkNotFound:
            if not missing_ok:
                raise

    def set_link(self, name: str, *, up: bool | None = None, master: str | None = None,
                 nomaster: bool = False, mtu: int | None = None, mac: str | None = None,
                 netns: int | str | None = None, new_name: str | None = None) -> None:
        """Change a link in one request. The kernel moves it to ``netns`` first, then
        renames it, then sets the rest, so "move the peer in, call it eth0, bring it up"
        is one call."""
        if master is not None and nomaster:
            raise InvalidArgument(f'link "{name}": master and nomaster are exclusive')
        changes = [label for label, given in (
            ("up" if up else "down", up is not None),
            (f'master "{master}"', master is not None),
            ("nomaster", nomaster),
            (f"mtu {mtu}", mtu is not None),
            (f"mac {mac}", mac is not None),
            (f"netns {netns}", netns is not None),
            (f'name "{new_name}"', new_name is not None),
        ) if given]
        what = f'set link "{name}" ({", ".join(changes)})'
        attrs = _opt_u32(_IFLA_MTU, mtu) + _opt_mac(mac)
        if master is not None:
            bridge = self.link(master)
            if bridge is None:
                raise NetlinkNotFound(f'cannot {what}: link "{master}" not found', errno.ENODEV)
            attrs += _u32(_IFLA_MASTER, bridge.index)
        elif nomaster:
            attrs += _u32(_IFLA_MASTER, 0)
        index = 0
        if new_name is not None:
            # The kernel finds the link by IFLA_IFNAME unless the index is given; a
            # rename needs the index, since IFLA_IFNAME then carries the new name.
            current = self.link(name)
            if current is None:
                raise NetlinkNotFound(f'cannot {what}: link "{name}" not found', errno.ENODEV)
            index = current.index
        attrs += _str(_IFLA_IFNAME, name if new_name is None else new_name)
        flags = _IFF_UP if up else 0
        change = 0 if up is None else _IFF_UP
        with _netns_fd(netns) as fd:
            payload = _ifinfo(index=index, flags=flags, change=change) + attrs
            self._request(_RTM_SETLINK, 0, payload + _opt_u32(_IFLA_NET_NS_FD, fd), what)

    def set_bridge_port(self, name: str, *, hairpin: bool | None = None,
                        isolated: bool | None = None) -> None:
        """Set a bridge port's flags (``bridge link set dev NAME hairpin on``)."""
        changes = [f"{label} {'on' if value else 'off'}"
                   for label, value in (("hairpin", hairpin), ("isolated", isolated))
                   if value is not None]
        what = f'set bridge port "{name}" ({", ".join(changes)})'
        port = self.link(name)
        if port is None:
            raise NetlinkNotFound(f'cannot {what}: link "{name}" not found', errno.ENODEV)
        info = b""
        if hairpin is not None:
            info += _attr(_IFLA_BRPORT_MODE, bytes([hairpin]))
        if isolated is not None:
            info += _attr(_IFLA_BRPORT_ISOLATED, bytes([isolated]))
        # The bridge reads IFLA_PROTINFO as port flags only when it is marked nested.
        payload = (_ifinfo(family=socket.AF_BRIDGE, index=port.index)
                   + _attr(_IFLA_PROTINFO | _NLA_F_NESTED, info))
        self._request(_RTM_SETLINK, 0, payload, what)

    # -- addresses ----------------------------------------------------------------------

    def add_address(self, name: str, cidr: str) -> None:
        """Add ``a.b.c.d/len`` (or an IPv6 ``addr/len``) to a link; IPv4 gets its broadcast."""
        what = f'add address {cidr} to "{name}"'
        self._request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL,
                      self._address_msg(name, cidr, what, broadcast=True), what)

    def delete_address(self, name: str, cidr: str) -> None:
        what = f'delete address {cidr} from "{name}"'
        self._request(_RTM_DELADDR, 0, self._address_msg(name, cidr, what, broadcast=False),
                      what)

    def addresses(self, name: str | None = None) -> list[tuple[str, str]]:
        """(link name, "addr/len") of every address, or of ``name``'s; IPv6 link-local too."""
        names: dict[int, str]
        if name is None:
            names = {link.index: link.name for link in self.links()}
        else:
            names = {self.index(name): name}
        out = []
        for kind, body in self._request(_RTM_GETADDR, _NLM_F_DUMP,
                                        _IFADDR.pack(socket.AF_UNSPEC, 0, 0, 0, 0),
                                        "list addresses"):
            family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(body)
            if kind != _RTM_NEWADDR or index not in names:
                continue
            attrs = _attrs(body, _IFADDR.size)
            # IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links.
            raw = attrs.get(_IFA_LOCAL) or attrs.get(_IFA_ADDRESS)
            if raw is not None:
                out.append((names[index], f"{socket.inet_ntop(family, raw)}/{prefixlen}"))
        return out

    def _address_msg(self, name: str, cidr: str, what: str, *, broadcast: bool) -> bytes:
        family, raw, prefixlen = _parse_cidr(cidr)
        link = self.link(name)
        if link is None:
            raise NetlinkNotFound(f'cannot {what}: link "{name}" not found', errno.ENODEV)
        attrs = _attr(_IFA_LOCAL, raw) + _attr(_IFA_ADDRESS, raw)
        if broadcast and family == socket.AF_INET and prefixlen < 31:
            host_bits = (1 << (32 - prefixlen)) - 1
            brd = (int.from_bytes(raw, "big") | host_bits).to_bytes(4, "big")
            attrs += _attr(_IFA_BROADCAST, brd)
        return _IFADDR.pack(family, prefixlen, 0, 0, link.index) + attrs

    # -- routes -------------------------------------------------------------------------

    def add_route(self, dst: str, *, gateway: str | None = None, dev: str | None = None) -> None:
        """Add a main-table route; ``dst`` is "default" or a CIDR."""
        what = f"add route {dst}" + (f" via {gateway}" if gateway else "") + (
            f' dev "{dev}"' if dev else "")
        if gateway is None and dev is None:
            raise InvalidArgument(f"cannot {what}: give a gateway or a device")
        self._request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL,
                      self._route_msg(dst, gateway, dev, what, delete=False), what)

    def delete_route(self, dst: str, *, gateway: str | None = None,
                     dev: str | None = None) -> None:
        what = f"delete route {dst}" + (f" via {gateway}" if gateway else "") + (
            f' dev "{dev}"' if dev else "")
        self._request(_RTM_DELROUTE, 0, self._route_msg(dst, gateway, dev, what, delete=True),
                      what)

    def routes(self) -> list[dict[str, str]]:
        """Unicast routes of the main table: {"dst": "default"|cidr, "gateway", "dev"}
        ("" when absent)."""
        names = {link.index: link.name for link in self.links()}
        out = []
        for kind, body in self._request(_RTM_GETROUTE, _NLM_F_DUMP,
                                        _RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0),
                                        "list routes"):
            family, dst_len, _src, _tos, table, _proto, _scope, rtype, _flags = \
                _RTMSG.unpack_from(body)
            attrs = _attrs(body, _RTMSG.size)
            if _RTA_TABLE in attrs:
                table = _U32.unpack(attrs[_RTA_TABLE])[0]
            if kind != _RTM_NEWROUTE or table != _RT_TABLE_MAIN or rtype != _RTN_UNICAST:
                continue
            dst = attrs.get(_RTA_DST)
            gateway = attrs.get(_RTA_GATEWAY)
            oif = attrs.get(_RTA_OIF)
            out.append({
                "dst": f"{socket.inet_ntop(family, dst)}/{dst_len}" if dst else "default",
                "gateway": socket.inet_ntop(family, gateway) if gateway else "",
                "dev": names.get(_U32.unpack(oif)[0], "") if oif else "",
            })
        return out

    def _route_msg(self, dst: str, gateway: str | None, dev: str | None, what: str, *,
                   delete: bool) -> bytes:
        gw_family, gw = (0, b"") if gateway is None else _parse_ip(gateway)
        if dst == "default":
            family, raw, dst_len = gw_family or socket.AF_INET, b"", 0
        else:
            family, raw, dst_len = _parse_cidr(dst)
        if gateway is not None and gw_family != family:
            raise InvalidArgument(f"cannot {what}: gateway and destination families differ")
        attrs = _attr(_RTA_DST, raw) if dst_len else b""
        if gw:
            attrs += _attr(_RTA_GATEWAY, gw)
        if dev is not None:
            link = self.link(dev)
            if link is None:
                raise NetlinkNotFound(f'cannot {what}: link "{dev}" not found', errno.ENODEV)
            attrs += _u32(_RTA_OIF, link.index)
        if delete:  # match any scope, protocol and type, as `ip route del` does
            header = _RTMSG.pack(family, dst_len, 0, 0, _RT_TABLE_MAIN, 0, _RT_SCOPE_NOWHERE,
                                 0, 0)
        else:
            scope = _RT_SCOPE_UNIVERSE if gateway else _RT_SCOPE_LINK
            header = _RTMSG.pack(family, dst_len, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT, scope,
                                 _RTN_UNICAST, 0)
        return header + attrs

    # -- the wire -----------------------------------------------------------------------

    def _request(self, msg_type: int, flags: int, payload: bytes,
                 what: str) -> list[tuple[int, bytes]]:
        """Send one request and read its answer: the replies (type, body after nlmsghdr)
        up to the ack, or up to NLMSG_DONE for a dump. Raises NetlinkError on an error ack."""
        with self._lock:
            self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
            seq = self._seq
            header = _HDR.pack(_HDR.size + len(payload), msg_type,
                               flags | _NLM_F_REQUEST | _NLM_F_ACK, seq, 0)
            try:
                self._sock.send(header + payload)
                return self._read_answer(seq, what)
            except OSError as e:
                raise NetlinkError(f"cannot {what}: netlink: {e.strerror}", e.errno or 0) from e

    def _read_answer(self, seq: int, what: str) -> list[tuple[int, bytes]]:
        replies: list[tuple[int, bytes]] = []
        buf = self._buf
        while True:
            size = self._sock.recv_into(buf, 0, socket.MSG_TRUNC)
            if size > len(buf):
                raise NetlinkError(f"cannot {what}: a {size}-byte netlink reply was truncated",
                                   errno.EMSGSIZE)
            off = 0
            while off + _HDR.size <= size:
                length, kind, flags, got_seq, _pid = _HDR.unpack_from(buf, off)
                if length < _HDR.size or off + length > size:
                    raise NetlinkError(f"cannot {what}: malformed netlink reply", errno.EPROTO)
                if got_seq != seq:
                    log.debug("skipping netlink message type %d for stale sequence %d",
                              kind, got_seq)
                elif kind in (_NLMSG_ERROR, _NLMSG_DONE):
                    code = -_I32.unpack_from(buf, off + _HDR.size)[0] if length >= 20 else 0
                    if code:
                        raise _error(what, code, _extack(buf, off, length, kind, flags))
                    return replies
                elif kind != _NLMSG_NOOP:
                    replies.append((kind, bytes(buf[off + _HDR.size:off + length])))
                off += (length + 3) & ~3


def _open_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
        sock.setsockopt(_SOL_NETLINK, _NETLINK_EXT_ACK, 1)
        sock.bind((0, 0))
    except OSError:
        sock.close()
        raise
    return sock


def _error(what: str, code: int, extack: str) -> NetlinkError:
    message = f"cannot {what}: {os.strerror(code)}" + (f" ({extack})" if extack else "")
    if code == errno.EEXIST:
        return NetlinkExists(message, code)
    if code in (errno.ENODEV, errno.ENOENT, errno.ESRCH, errno.EADDRNOTAVAIL):
        return NetlinkNotFound(message, code)
    return NetlinkError(message, code)


def _extack(buf: bytearray, off: int, length: int, kind: int, flags: int) -> str:
    """The kernel's explanation attached to an error (NETLINK_EXT_ACK), or ""."""
    if not flags & _NLM_F_ACK_TLVS:
        return ""
    # nlmsgerr: the error code, then (NETLINK_CAP_ACK) only our request's header.
    start = off + _HDR.size + 4 + (_HDR.size if kind == _NLMSG_ERROR else 0)
    msg = _attrs(bytes(buf[start:off + length]), 0).get(_NLMSGERR_ATTR_MSG, b"")
    return msg.rstrip(b"\0").decode(errors="replace")


@contextmanager
def _netns_fd(netns: int | str | None) -> Iterator[int | None]:
    """An fd for IFLA_NET_NS_FD: the caller's own, or a path opened for the request."""
    if not isinstance(netns, str):
        yield netns
        return
    fd = open_netns(netns)
    try:
        yield fd
    finally:
        os.close(fd)


def _link(body: bytes) -> Link:
    _family, _type, index, flags, _change = _IFINFO.unpack_from(body)
    attrs = _attrs(body, _IFINFO.size)
    info = _attrs(attrs.get(_IFLA_LINKINFO, b""), 0)
    return Link(
        index=index,
        name=_cstr(attrs.get(_IFLA_IFNAME, b"")),
        kind=_cstr(info.get(_IFLA_INFO_KIND, b"")),
        master=_U32.unpack(attrs[_IFLA_MASTER])[0] if _IFLA_MASTER in attrs else 0,
        mac=":".join(f"{b:02x}" for b in attrs.get(_IFLA_ADDRESS, b"")),
        mtu=_U32.unpack(attrs[_IFLA_MTU])[0] if _IFLA_MTU in attrs else 0,
        up=bool(flags & _IFF_UP),
    )


def _attrs(data: bytes, off: int) -> dict[int, bytes]:
    out = {}
    while off + _RTA.size <= len(data):
        length, kind = _RTA.unpack_from(data, off)
        if length < _RTA.size:
            break
        out[kind & _NLA_TYPE_MASK] = data[off + _RTA.size:off + length]
        off += (length + 3) & ~3
    return out


def _attr(kind: int, data: bytes) -> bytes:
    length = _RTA.size + len(data)
    return _RTA.pack(length, kind) + data + b"\0" * (-length % 4)


def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, _U32.pack(value))


def _opt_u32(kind: int, value: int | None) -> bytes:
    return b"" if value is None else _u32(kind, value)


def _opt_mac(mac: str | None) -> bytes:
    if mac is None:
        return b""
    try:
        raw = bytes.fromhex(mac.replace(":", "")) if len(mac) == 17 else b""
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise InvalidArgument(f'invalid MAC address "{mac}"')
    return _attr(_IFLA_ADDRESS, raw)


def _ifinfo(*, family: int = socket.AF_UNSPEC, index: int = 0, flags: int = 0,
            change: int = 0) -> bytes:
    return _IFINFO.pack(family, 0, index, flags, change)


def _cstr(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode(errors="replace")


def _parse_ip(text: str, within: str = "") -> tuple[int, bytes]:
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    try:
        return family, socket.inet_pton(family, text)
    except OSError:
        raise InvalidArgument(f'invalid IP address "{within or text}"') from None


def _parse_cidr(cidr: str) -> tuple[int, bytes, int]:
    """"10.1.0.2/24" → (AF_INET, packed address, 24)."""
    addr, sep, length = cidr.partition("/")
    family, raw = _parse_ip(addr, cidr)
    bits = len(raw) * 8
    if not sep or not length.isdigit() or int(length) > bits:
        raise InvalidArgument(f'invalid address "{cidr}": want addr/prefix-length')
    return family, raw, int(length)
