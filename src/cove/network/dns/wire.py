"""DNS messages on the wire (RFC 1035): parse and build, with strict bounds.

The embedded resolver reads packets from containers, which may be hostile: every
read here is bounds-checked, compression pointers may only point backwards (so
they cannot loop), names are capped at 255 octets, and any malformation raises
``DnsFormatError`` — never IndexError, struct.error or UnicodeError.

Names are handled as text: labels joined by dots, no trailing dot, octets outside
printable ASCII (and dots or backslashes inside a label) written as ``\\DDD`` like
dig does, so a name read from the wire always re-encodes to the same octets.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from cove.errors import InvalidArgument

# Record types and the class the resolver deals in.
TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_OPT = 41
CLASS_IN = 1

# Response codes.
RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
RCODE_REFUSED = 5

OPCODE_QUERY = 0

# Header flag bits (in the 16-bit flags word).
FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080

HEADER_SIZE = 12
MAX_NAME_OCTETS = 255  # on the wire, length octets and the root label included
MAX_LABEL_OCTETS = 63
MAX_UDP_PLAIN = 512  # a UDP reply's limit without EDNS (RFC 1035 4.2.1)

# Types whose RDATA is a single domain name: decompressed on parse, so a parsed
# record is self-contained and can be rebuilt into another message.
_NAME_RDATA_TYPES = frozenset({TYPE_NS, TYPE_CNAME, TYPE_PTR})

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_Q_FIXED = struct.Struct("!HH")


class DnsFormatError(InvalidArgument):
    """A DNS message (or a name meant for one) is malformed."""


@dataclass(frozen=True)
class Header:
    """A header; the counts are what the wire said and build_message derives them
    from the sections, so they take no part in comparisons."""

    id: int
    flags: int
    qdcount: int = field(default=0, compare=False)
    ancount: int = field(default=0, compare=False)
    nscount: int = field(default=0, compare=False)
    arcount: int = field(default=0, compare=False)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_QR)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)

    @property
    def recursion_desired(self) -> bool:
        return bool(self.flags & FLAG_RD)

    @property
    def rcode(self) -> int:
        return self.flags & 0xF


@dataclass(frozen=True)
class Question:
    name: str
    qtype: int
    qclass: int = CLASS_IN


@dataclass(frozen=True)
class ResourceRecord:
    """One record; ``rdata`` is raw, except name-valued types (PTR, CNAME, NS),
    whose RDATA is the uncompressed encoded name."""

    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes

    @property
    def address(self) -> str:
        """The address of an A or AAAA record."""
        if self.rtype == TYPE_A and len(self.rdata) == 4:
            return str(ipaddress.IPv4Address(self.rdata))
        if self.rtype == TYPE_AAAA and len(self.rdata) == 16:
            return str(ipaddress.IPv6Address(self.rdata))
        raise DnsFormatError(f"record {self.name!r} of type {self.rtype} has no address")

    @property
    def target(self) -> str:
        """The name a PTR, CNAME or NS record points to."""
        if self.rtype not in _NAME_RDATA_TYPES:
            raise DnsFormatError(f"record {self.name!r} of type {self.rtype} holds no name")
        name, end = decode_name(self.rdata, 0)
        if end != len(self.rdata):
            raise DnsFormatError(f"record {self.name!r}: trailing octets after the name")
        return name


@dataclass(frozen=True)
class Message:
    header: Header
    questions: tuple[Question, ...] = ()
    answers: tuple[ResourceRecord, ...] = ()
    authority: tuple[ResourceRecord, ...] = ()
    additional: tuple[ResourceRecord, ...] = field(default=())


# -- names -------------------------------------------------------------------------------

def _label_text(raw: bytes) -> str:
    out = []
    for b in raw:
        if b in (0x2E, 0x5C) or b <= 0x20 or b >= 0x7F:
            out.append(f"\\{b:03d}")
        else:
            out.append(chr(b))
    return "".join(out)


def _label_octets(label: str, name: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(label):
        c = label[i]
        if c == "\\":
            digits = label[i + 1:i + 4]
            if len(digits) == 3 and digits.isdigit() and int(digits) <= 255:
                out.append(int(digits))
                i += 4
                continue
            if i + 1 < len(label):
                out += label[i + 1].encode("ascii", "replace")
                i += 2
                continue
            raise DnsFormatError(f"name {name!r}: dangling backslash")
        if not c.isascii():
            raise DnsFormatError(f"name {name!r}: non-ASCII character {c!r}")
        out.append(ord(c))
        i += 1
    return bytes(out)


def _split_labels(name: str) -> list[bytes]:
    """The octets of each label of a text name (escapes undone), root excluded."""
    if name in ("", "."):
        return []
    if name.endswith(".") and not name.endswith("\\."):
        name = name[:-1]
    labels: list[bytes] = []
    current: list[str] = []
    i = 0
    while i < len(name):
        c = name[i]
        if c == "\\" and i + 1 < len(name):
            current.append(name[i:i + 2])
            i += 2
            continue
        if c == ".":
            labels.append(_label_octets("".join(current), name))
            current = []
        else:
            current.append(c)
        i += 1
    labels.append(_label_octets("".join(current), name))
    total = 1
    for label in labels:
        if not label:
            raise DnsFormatError(f"name {name!r}: empty label")
        if len(label) > MAX_LABEL_OCTETS:
            raise DnsFormatError(f"name {name!r}: label longer than {MAX_LABEL_OCTETS} octets")
        total += 1 + len(label)
    if total > MAX_NAME_OCTETS:
        raise DnsFormatError(f"name {name!r}: longer than {MAX_NAME_OCTETS} octets")
    return labels


def encode_name(name: str) -> bytes:
    """The uncompressed wire form of a text name."""
    labels = _split_labels(name)
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"


def decode_name(data: bytes, offset: int) -> tuple[str, int]:
    """Read the (possibly compressed) name at ``offset``; returns it and the offset
    just after it in the original position. Pointers must point strictly before
    every octet read so far for this name, so each jump moves strictly backwards:
    no loops, no forward references, and the work is bounded by the message size."""
    labels: list[str] = []
    pos = offset
    lowest = offset
    end_after: int | None = None
    octets = 1
    limit = len(data)
    while True:
        if pos >= limit:
            raise DnsFormatError(f"name at offset {offset}: runs past the end of the message")
        length = data[pos]
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= limit:
                raise DnsFormatError(f"name at offset {offset}: truncated compression pointer")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if target >= lowest:
                raise DnsFormatError(
                    f"name at offset {offset}: compression pointer to {target} does not point "
                    "backwards")
            if end_after is None:
                end_after = pos + 2
            pos = lowest = target
            continue
        if kind != 0:
            raise DnsFormatError(f"name at offset {offset}: unsupported label type {kind:#x}")
        if length == 0:
            return ".".join(labels), (end_after if end_after is not None else pos + 1)
        start = pos + 1
        stop = start + length
        if stop > limit:
            raise DnsFormatError(f"name at offset {offset}: label runs past the end")
        octets += 1 + length
        if octets > MAX_NAME_OCTETS:
            raise DnsFormatError(f"name at offset {offset}: longer than {MAX_NAME_OCTETS} octets")
        labels.append(_label_text(data[start:stop]))
        pos = stop


class _Writer:
    """Accumulates a message, compressing names against the suffixes written so far."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self._suffixes: dict[tuple[bytes, ...], int] = {}

    def name(self, name: str) -> None:
        # Suffixes match octet for octet (not case-insensitively), so a name reads
        # back exactly as it was written.
        raw = _split_labels(name)
        for i in range(len(raw)):
            key = tuple(raw[i:])
            at = self._suffixes.get(key)
            if at is not None:
                self.buf += struct.pack("!H", 0xC000 | at)
                return
            if len(self.buf) < 0x4000:  # a pointer has 14 bits
                self._suffixes[key] = len(self.buf)
            self.buf += bytes([len(raw[i])]) + raw[i]
        self.buf += b"\x00"

    def record(self, rr: ResourceRecord) -> None:
        self.name(rr.name)
        if rr.rtype in _NAME_RDATA_TYPES:
            target, _ = decode_name(rr.rdata, 0)
            self.buf += _RR_FIXED.pack(rr.rtype, rr.rclass, rr.ttl, 0)
            length_at = len(self.buf) - 2
            self.name(target)
            struct.pack_into("!H", self.buf, length_at, len(self.buf) - length_at - 2)
        else:
            if len(rr.rdata) > 0xFFFF:
                raise DnsFormatError(f"record {rr.name!r}: RDATA longer than 65535 octets")
            self.buf += _RR_FIXED.pack(rr.rtype, rr.rclass, rr.ttl, len(rr.rdata))
            self.buf += rr.rdata


# -- messages ----------------------------------------------------------------------------

def parse_header(data: bytes) -> Header:
    if len(data) < HEADER_SIZE:
        raise DnsFormatError(f"message of {len(data)} octets is shorter than a DNS header")
    return Header(*_HEADER.unpack_from(data, 0))


def _parse_record(data: bytes, pos: int) -> tuple[ResourceRecord, int]:
    name, pos = decode_name(data, pos)
    if pos + _RR_FIXED.size > len(data):
        raise DnsFormatError(f"record {name!r}: truncated fixed fields")
    rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(data, pos)
    pos += _RR_FIXED.size
    end = pos + rdlength
    if end > len(data):
        raise DnsFormatError(f"record {name!r}: RDATA runs past the end of the message")
    if rtype in _NAME_RDATA_TYPES:
        target, after = decode_name(data, pos)
        if after != end:
            raise DnsFormatError(f"record {name!r}: RDATA length does not match its name")
        rdata = encode_name(target)
    else:
        rdata = bytes(data[pos:end])
    return ResourceRecord(name, rtype, rclass, ttl, rdata), end


def parse_message(data: bytes) -> Message:
    """Parse a whole message; trailing octets after the last record are an error."""
    header = parse_header(data)
    pos = HEADER_SIZE
    questions = []
    for _ in range(header.qdcount):
        name, pos = decode_name(data, pos)
        if pos + _Q_FIXED.size > len(data):
            raise DnsFormatError(f"question {name!r}: truncated type and class")
        qtype, qclass = _Q_FIXED.unpack_from(data, pos)
        pos += _Q_FIXED.size
        questions.append(Question(name, qtype, qclass))
    sections: list[list[ResourceRecord]] = [[], [], []]
    for section, count in zip(sections, (header.ancount, header.nscount, header.arcount),
                              strict=True):
        for _ in range(count):
            rr, pos = _parse_record(data, pos)
            section.append(rr)
    if pos != len(data):
        raise DnsFormatError(f"{len(data) - pos} octets after the last record")
    return Message(header, tuple(questions), tuple(sections[0]), tuple(sections[1]),
                   tuple(sections[2]))


def build_message(msg: Message) -> bytes:
    """The wire form of ``msg``; the counts come from the sections, not the header."""
    w = _Writer()
    h = msg.header
    w.buf += _HEADER.pack(h.id & 0xFFFF, h.flags & 0xFFFF, len(msg.questions),
                          len(msg.answers), len(msg.authority), len(msg.additional))
    for q in msg.questions:
        w.name(q.name)
        w.buf += _Q_FIXED.pack(q.qtype, q.qclass)
    for section in (msg.answers, msg.authority, msg.additional):
        for rr in section:
            w.record(rr)
    return bytes(w.buf)


# -- records and replies -----------------------------------------------------------------

def a_record(name: str, address: str, ttl: int) -> ResourceRecord:
    try:
        raw = ipaddress.IPv4Address(address).packed
    except ValueError as e:
        raise DnsFormatError(f"A record {name!r}: {e}") from e
    return ResourceRecord(name, TYPE_A, CLASS_IN, ttl, raw)


def aaaa_record(name: str, address: str, ttl: int) -> ResourceRecord:
    try:
        raw = ipaddress.IPv6Address(address).packed
    except ValueError as e:
        raise DnsFormatError(f"AAAA record {name!r}: {e}") from e
    return ResourceRecord(name, TYPE_AAAA, CLASS_IN, ttl, raw)


def ptr_record(name: str, target: str, ttl: int) -> ResourceRecord:
    return ResourceRecord(name, TYPE_PTR, CLASS_IN, ttl, encode_name(target))


def reverse_pointer_address(name: str) -> str | None:
    """The IPv4 address of ``d.c.b.a.in-addr.arpa`` (any case), else None."""
    parts = name.lower().split(".")
    if len(parts) != 6 or parts[4:] != ["in-addr", "arpa"]:
        return None
    octets = parts[:4]
    if not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in octets):
        return None
    return ".".join(str(int(p)) for p in reversed(octets))


def reply_flags(query: Header, rcode: int, *, authoritative: bool = False,
                truncated: bool = False) -> int:
    """A reply's flags: QR, the query's opcode and RD, RA (we recurse), the rcode."""
    flags = FLAG_QR | FLAG_RA | (query.flags & (0x7800 | FLAG_RD)) | (rcode & 0xF)
    if authoritative:
        flags |= FLAG_AA
    if truncated:
        flags |= FLAG_TC
    return flags


def build_reply(query: Message, rcode: int, answers: tuple[ResourceRecord, ...] = (), *,
                authoritative: bool = False, limit: int = 0xFFFF) -> bytes:
    """A reply to ``query`` echoing its question; answers that would push the reply
    past ``limit`` octets are left out and TC is set (the client retries over TCP)."""
    kept = answers
    while True:
        truncated = len(kept) < len(answers)
        msg = Message(Header(query.header.id,
                             reply_flags(query.header, rcode, authoritative=authoritative,
                                         truncated=truncated)),
                      query.questions, kept)
        wire = build_message(msg)
        if len(wire) <= limit or not kept:
            return wire
        kept = kept[:-1]


def error_reply(query_wire: bytes, rcode: int) -> bytes | None:
    """A bare reply (no sections) with ``rcode`` to a query whose body may not parse;
    None when not even the header is there (nothing to answer to)."""
    try:
        h = parse_header(query_wire)
    except DnsFormatError:
        return None
    return _HEADER.pack(h.id, reply_flags(h, rcode), 0, 0, 0, 0)


def udp_payload_limit(query: Message) -> int:
    """How large a UDP reply the client accepts: its EDNS OPT size, else 512."""
    for rr in query.additional:
        if rr.rtype == TYPE_OPT:
            return max(MAX_UDP_PLAIN, min(rr.rclass, 4096))
    return MAX_UDP_PLAIN


def with_id(wire: bytes, new_id: int) -> bytes:
    """The message with its ID replaced (the rest relayed verbatim)."""
    if len(wire) < 2:
        raise DnsFormatError(f"message of {len(wire)} octets has no ID")
    return struct.pack("!H", new_id & 0xFFFF) + wire[2:]
