"""DNS wire format: round trips, compression, and hostile packets."""

from __future__ import annotations

import random
import struct

import pytest

from cove.network.dns.wire import (
    FLAG_AA,
    FLAG_QR,
    FLAG_RD,
    FLAG_TC,
    RCODE_FORMERR,
    RCODE_NOERROR,
    TYPE_A,
    TYPE_AAAA,
    TYPE_OPT,
    TYPE_PTR,
    DnsFormatError,
    Header,
    Message,
    Question,
    ResourceRecord,
    a_record,
    aaaa_record,
    build_message,
    build_reply,
    decode_name,
    encode_name,
    error_reply,
    parse_header,
    parse_message,
    ptr_record,
    reverse_pointer_address,
    udp_payload_limit,
    with_id,
)


def query(name: str, qtype: int = TYPE_A, qid: int = 0x1234) -> Message:
    return Message(Header(qid, FLAG_RD), (Question(name, qtype),))


def sample_reply() -> Message:
    return Message(
        Header(0xBEEF, FLAG_QR | FLAG_AA | FLAG_RD),
        (Question("web.mynet", TYPE_A),),
        (a_record("web.mynet", "10.203.0.2", 600), a_record("web.mynet", "10.203.1.2", 600)),
        (ptr_record("2.0.203.10.in-addr.arpa", "web.mynet", 60),),
        (aaaa_record("web.mynet", "fd00::2", 30),),
    )


# -- names -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "web", "web.mynet", "a.b.c.example.com",
                                  "x" * 63 + ".y", "with\\032space.and\\046dot"])
def test_name_round_trip(name: str) -> None:
    wire = encode_name(name)
    assert decode_name(wire, 0) == (name, len(wire))


def test_name_trailing_dot_is_the_root() -> None:
    assert encode_name("web.mynet.") == encode_name("web.mynet") == b"\x03web\x05mynet\x00"


def test_unprintable_octets_are_escaped_and_read_back_exactly() -> None:
    wire = b"\x05a.\x00\x01\\\x00"
    name, end = decode_name(wire, 0)
    assert name == "a\\046\\000\\001\\092"
    assert end == len(wire)
    assert encode_name(name) == wire


@pytest.mark.parametrize("name", ["a..b", "x" * 64, ".".join(["abcdefg"] * 32), "caf\u00e9"])
def test_bad_names_are_refused_when_encoding(name: str) -> None:
    with pytest.raises(DnsFormatError):
        encode_name(name)


def test_longest_name_is_accepted_and_one_more_octet_is_not() -> None:
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 255 octets on the wire
    assert len(encode_name(longest)) == 255
    with pytest.raises(DnsFormatError):
        encode_name(longest + "d")
    over = b"".join(bytes([63]) + b"a" * 63 for _ in range(4)) + b"\x00"  # 257 octets
    with pytest.raises(DnsFormatError, match="longer than 255"):
        decode_name(over, 0)


# -- compression -------------------------------------------------------------------------

def test_build_compresses_repeated_suffixes() -> None:
    msg = sample_reply()
    wire = build_message(msg)
    # The answers' owner names are pointers to the question's name (offset 12).
    assert wire.count(b"\x03web\x05mynet") == 1
    assert struct.pack("!H", 0xC000 | 12) in wire
    assert parse_message(wire) == msg


def test_parse_follows_pointers_written_by_another_encoder() -> None:
    header = struct.pack("!HHHHHH", 7, FLAG_QR, 1, 1, 0, 0)
    question = b"\x03web\x05mynet\x00" + struct.pack("!HH", TYPE_A, 1)
    # Owner "db" + pointer to "mynet" (offset 12 + 4); PTR-free A record.
    answer = b"\x02db\xc0\x10" + struct.pack("!HHIH", TYPE_A, 1, 600, 4) + bytes([10, 203, 0, 9])
    msg = parse_message(header + question + answer)
    assert msg.questions == (Question("web.mynet", TYPE_A),)
    assert msg.answers[0].name == "db.mynet"
    assert msg.answers[0].address == "10.203.0.9"


def test_ptr_rdata_is_decompressed_on_parse() -> None:
    header = struct.pack("!HHHHHH", 7, FLAG_QR, 1, 1, 0, 0)
    question = b"\x012\x010\x03203\x0210\x07in-addr\x04arpa\x00" + struct.pack("!HH", TYPE_PTR, 1)
    rdata = b"\x03web\xc0\x0c"  # "web" + pointer to the question name: odd but legal
    answer = b"\xc0\x0c" + struct.pack("!HHIH", TYPE_PTR, 1, 600, len(rdata)) + rdata
    msg = parse_message(header + question + answer)
    assert msg.answers[0].target == "web.2.0.203.10.in-addr.arpa"
    assert parse_message(build_message(msg)) == msg


# -- hostile names -----------------------------------------------------------------------

def test_pointer_to_itself_is_refused() -> None:
    wire = b"\x00" * 12 + b"\xc0\x0c"
    with pytest.raises(DnsFormatError, match="backwards"):
        decode_name(wire, 12)


def test_pointer_loop_through_labels_is_refused() -> None:
    # At 12: label "ab", then a pointer back to 12: would spin forever if allowed.
    wire = b"\x00" * 12 + b"\x02ab\xc0\x0c"
    with pytest.raises(DnsFormatError, match="backwards"):
        decode_name(wire, 12)


def test_two_pointers_pointing_at_each_other_are_refused() -> None:
    wire = b"\x00" * 12 + b"\xc0\x0e\xc0\x0c"
    with pytest.raises(DnsFormatError):
        decode_name(wire, 12)
    with pytest.raises(DnsFormatError):
        decode_name(wire, 14)


@pytest.mark.parametrize("wire", [
    b"\xc0",                    # half a pointer
    b"\x05abc",                 # label past the end
    b"\x03abc",                 # no terminating root label
    b"\x41abc\x00",             # extended label type 01
    b"\x81abc\x00",             # label type 10
    b"",
], ids=["half-pointer", "label-past-end", "no-root", "type-01", "type-10", "empty"])
def test_malformed_names_are_refused(wire: bytes) -> None:
    with pytest.raises(DnsFormatError):
        decode_name(wire, 0)


def test_pointer_beyond_the_message_is_refused() -> None:
    wire = b"\x00" * 12 + b"\x01a\xff\xff"
    with pytest.raises(DnsFormatError):
        decode_name(wire, 12)


# -- messages ----------------------------------------------------------------------------

def test_header_fields() -> None:
    h = parse_header(struct.pack("!HHHHHH", 0xABCD, 0x8183 | FLAG_TC, 1, 2, 3, 4))
    assert (h.id, h.qdcount, h.ancount, h.nscount, h.arcount) == (0xABCD, 1, 2, 3, 4)
    assert h.is_response and h.truncated and h.recursion_desired
    assert h.rcode == 3
    assert h.opcode == 0


def test_short_header_and_trailing_octets_are_refused() -> None:
    with pytest.raises(DnsFormatError, match="shorter than a DNS header"):
        parse_header(b"\x00" * 11)
    with pytest.raises(DnsFormatError, match="after the last record"):
        parse_message(build_message(query("web")) + b"\x00")


def test_counts_larger_than_the_content_are_refused() -> None:
    wire = bytearray(build_message(query("web")))
    wire[5] = 2  # qdcount 2, one question present
    with pytest.raises(DnsFormatError):
        parse_message(bytes(wire))


def test_record_address_and_target_accessors() -> None:
    assert aaaa_record("x", "fd00::2", 1).address == "fd00::2"
    assert ptr_record("x", "web.mynet", 1).target == "web.mynet"
    with pytest.raises(DnsFormatError):
        ResourceRecord("x", TYPE_A, 1, 1, b"\x01\x02").address  # noqa: B018
    with pytest.raises(DnsFormatError):
        a_record("x", "10.0.0.1", 1).target  # noqa: B018
    with pytest.raises(DnsFormatError):
        a_record("x", "not-an-ip", 1)


def test_reply_echoes_the_question_id_and_rd() -> None:
    q = query("Web.MyNet", qid=0x4242)
    reply = parse_message(build_reply(q, RCODE_NOERROR, (a_record("Web.MyNet", "10.203.0.2", 600),),
                                      authoritative=True))
    assert reply.header.id == 0x4242
    assert reply.header.is_response and reply.header.recursion_desired
    assert reply.header.flags & FLAG_AA
    assert reply.questions == q.questions
    assert [rr.address for rr in reply.answers] == ["10.203.0.2"]
    assert reply.answers[0].ttl == 600


def test_reply_over_the_limit_drops_answers_and_sets_tc() -> None:
    q = query("many")
    answers = tuple(a_record("many", f"10.203.0.{i}", 600) for i in range(1, 60))
    wire = build_reply(q, RCODE_NOERROR, answers, limit=512)
    assert len(wire) <= 512
    reply = parse_message(wire)
    assert reply.header.truncated
    assert 0 < len(reply.answers) < len(answers)
    full = parse_message(build_reply(q, RCODE_NOERROR, answers))
    assert not full.header.truncated and len(full.answers) == len(answers)


def test_udp_payload_limit_follows_edns() -> None:
    q = query("web")
    assert udp_payload_limit(q) == 512
    opt = ResourceRecord("", TYPE_OPT, 1232, 0, b"")
    assert udp_payload_limit(Message(q.header, q.questions, additional=(opt,))) == 1232


def test_error_reply_needs_only_a_header() -> None:
    wire = struct.pack("!HHHHHH", 0x0102, FLAG_RD, 1, 0, 0, 0) + b"\xc0"
    reply = parse_message(error_reply(wire, RCODE_FORMERR) or b"")
    assert reply.header.id == 0x0102 and reply.header.rcode == RCODE_FORMERR
    assert reply.header.is_response and not reply.questions
    assert error_reply(b"\x01\x02\x03", RCODE_FORMERR) is None


def test_with_id_changes_only_the_id() -> None:
    wire = build_message(sample_reply())
    assert with_id(wire, 0x0001)[2:] == wire[2:]
    assert parse_header(with_id(wire, 0x0001)).id == 1


@pytest.mark.parametrize(("name", "ip"), [
    ("2.0.203.10.in-addr.arpa", "10.203.0.2"),
    ("2.0.203.10.IN-ADDR.ARPA", "10.203.0.2"),
    ("002.0.203.10.in-addr.arpa", "10.203.0.2"),
    ("0.203.10.in-addr.arpa", None),
    ("256.0.203.10.in-addr.arpa", None),
    ("a.0.203.10.in-addr.arpa", None),
    ("2.0.203.10.ip6.arpa", None),
    ("web.mynet", None),
])
def test_reverse_pointer_address(name: str, ip: str | None) -> None:
    assert reverse_pointer_address(name) == ip


# -- fuzzing -----------------------------------------------------------------------------

def _check_hostile(wire: bytes) -> None:
    """Parsing raises nothing but DnsFormatError; what parses rebuilds to the same."""
    try:
        msg = parse_message(wire)
    except DnsFormatError:
        return
    assert parse_message(build_message(msg)) == msg


def test_random_packets_raise_only_format_errors() -> None:
    rng = random.Random(0xC0DE)
    for _ in range(3000):
        size = rng.choice([rng.randrange(0, 16), rng.randrange(12, 64), rng.randrange(12, 600)])
        wire = bytes(rng.randrange(256) for _ in range(size))
        if len(wire) >= 12 and rng.random() < 0.7:
            # Small counts so the parser gets past the header more often.
            wire = struct.pack("!HHHHHH", rng.randrange(65536), rng.randrange(65536),
                               rng.randrange(3), rng.randrange(3), rng.randrange(2),
                               rng.randrange(2)) + wire[12:]
        _check_hostile(wire)


def test_mutated_packets_raise_only_format_errors() -> None:
    rng = random.Random(0xD15)
    seeds = [build_message(sample_reply()), build_message(query("web.mynet")),
             build_message(query("2.0.203.10.in-addr.arpa", TYPE_PTR)),
             build_message(query("web", TYPE_AAAA))]
    parsed = 0
    for _ in range(4000):
        wire = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(4)
            at = rng.randrange(len(wire)) if wire else 0
            if op == 0 and wire:
                wire[at] ^= 1 << rng.randrange(8)
            elif op == 1 and wire:
                wire[at] = rng.choice([0x00, 0x3F, 0x40, 0xC0, 0xFF, rng.randrange(256)])
            elif op == 2:
                del wire[at:]
            else:
                wire[at:at] = bytes([0xC0, rng.randrange(256)])
        try:
            parse_message(bytes(wire))
            parsed += 1
        except DnsFormatError:
            pass
        _check_hostile(bytes(wire))
    assert parsed > 0  # the mutations do not only produce garbage
