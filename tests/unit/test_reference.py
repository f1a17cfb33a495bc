"""Image references parse and normalize as the docker CLI does."""

from __future__ import annotations

import pytest

from cove.errors import InvalidArgument
from cove.images.reference import Reference, parse_reference

H = "a" * 64
D = "sha256:" + H
D512 = "sha512:" + "b" * 128

# input -> (str(normalized), familiar())
VALID: list[tuple[str, str, str]] = [
    ("busybox", "docker.io/library/busybox", "busybox"),
    ("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36.1-musl", "docker.io/library/busybox:1.36.1-musl", "busybox:1.36.1-musl"),
    ("library/busybox", "docker.io/library/busybox", "busybox"),
    ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
    ("docker.io/library/busybox:1", "docker.io/library/busybox:1", "busybox:1"),
    ("index.docker.io/busybox", "docker.io/library/busybox", "busybox"),
    ("index.docker.io/user/app:v2", "docker.io/user/app:v2", "user/app:v2"),
    ("user/app", "docker.io/user/app", "user/app"),
    ("user/app/sub", "docker.io/user/app/sub", "user/app/sub"),
    ("library/foo/bar", "docker.io/library/foo/bar", "library/foo/bar"),
    ("127.0.0.1:5000/team/app:1.2", "127.0.0.1:5000/team/app:1.2", "127.0.0.1:5000/team/app:1.2"),
    ("localhost/app", "localhost/app", "localhost/app"),
    ("localhost:5000/app:tag", "localhost:5000/app:tag", "localhost:5000/app:tag"),
    ("quay.io/coreos/etcd", "quay.io/coreos/etcd", "quay.io/coreos/etcd"),
    ("ghcr.io/o/r:sha-abc", "ghcr.io/o/r:sha-abc", "ghcr.io/o/r:sha-abc"),
    ("Example.COM/app", "Example.COM/app", "Example.COM/app"),
    ("REGISTRY/app", "REGISTRY/app", "REGISTRY/app"),
    ("my-registry.local:443/a/b", "my-registry.local:443/a/b", "my-registry.local:443/a/b"),
    ("[::1]:5000/app", "[::1]:5000/app", "[::1]:5000/app"),
    ("[2001:db8::1]/app:x", "[2001:db8::1]/app:x", "[2001:db8::1]/app:x"),
    ("busybox@" + D, "docker.io/library/busybox@" + D, "busybox@" + D),
    ("busybox:1@" + D, "docker.io/library/busybox:1@" + D, "busybox:1@" + D),
    ("localhost:5000/app@" + D512, "localhost:5000/app@" + D512, "localhost:5000/app@" + D512),
    ("a.b/c:d@" + D, "a.b/c:d@" + D, "a.b/c:d@" + D),
    ("foo_bar", "docker.io/library/foo_bar", "foo_bar"),
    ("foo__bar", "docker.io/library/foo__bar", "foo__bar"),
    ("foo.bar", "docker.io/library/foo.bar", "foo.bar"),
    ("foo-bar", "docker.io/library/foo-bar", "foo-bar"),
    ("foo---bar", "docker.io/library/foo---bar", "foo---bar"),
    ("a/b_c.d-e/f", "docker.io/a/b_c.d-e/f", "a/b_c.d-e/f"),
    ("0/1", "docker.io/0/1", "0/1"),
    (
        "busybox:UPPER_case.tag-1",
        "docker.io/library/busybox:UPPER_case.tag-1",
        "busybox:UPPER_case.tag-1",
    ),
    ("busybox:_tag", "docker.io/library/busybox:_tag", "busybox:_tag"),
    ("busybox:" + "t" * 128, "docker.io/library/busybox:" + "t" * 128, "busybox:" + "t" * 128),
    ("localhost", "docker.io/library/localhost", "localhost"),
    ("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"),
    ("host-1.example:5000/x", "host-1.example:5000/x", "host-1.example:5000/x"),
    ("1.2.3.4/x", "1.2.3.4/x", "1.2.3.4/x"),
    ("a" * 40 + "/b", "docker.io/" + "a" * 40 + "/b", "a" * 40 + "/b"),
    ("docker.io/user/app:1@" + D, "docker.io/user/app:1@" + D, "user/app:1@" + D),
]

# input -> substring of the error message
INVALID: list[tuple[str, str]] = [
    ("", "invalid reference format"),
    ("Busybox", "repository name (library/Busybox) must be lowercase"),
    ("busyBox:latest", "repository name (library/busyBox) must be lowercase"),
    ("user/App", "repository name (user/App) must be lowercase"),
    ("localhost/App", "repository name (App) must be lowercase"),
    (H, "cannot specify 64-byte hexadecimal strings"),
    ("busybox:", "invalid reference format"),
    ("busybox:-tag", "invalid reference format"),
    ("busybox:.tag", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("busybox:ta g", "invalid reference format"),
    ("busybox@", "invalid reference format"),
    ("busybox@sha256:abc", "invalid reference format"),
    ("busybox@sha256:" + "a" * 40, "invalid checksum digest length"),
    ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("busybox@" + H, "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busybox-", "invalid reference format"),
    ("foo_-bar", "invalid reference format"),
    ("foo..bar", "invalid reference format"),
    ("foo___bar", "invalid reference format"),
    ("foo/", "invalid reference format"),
    ("/foo", "invalid reference format"),
    ("foo//bar", "invalid reference format"),
    ("a/" + "b" * 250, "must not be more than 255 characters"),
    ("-host.com/app", "invalid reference format"),
    ("host-.com/app", "invalid reference format"),
    ("host.com:/app", "invalid reference format"),
    ("host.com:port/app", "invalid reference format"),
    ("localhost:5000/", "invalid reference format"),
    ("busybox:latest:extra", "invalid reference format"),
    ("busybox@" + D + "@" + D, "invalid reference format"),
    ("foo/bar@", "invalid reference format"),
    ("b\u00fcsybox", "invalid reference format"),
    ("[::1/app", "invalid reference format"),
    ("foo bar", "invalid reference format"),
]


@pytest.mark.parametrize(("text", "full", "familiar"), VALID)
def test_valid(text: str, full: str, familiar: str) -> None:
    ref = parse_reference(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert parse_reference(full) == ref
    assert parse_reference(familiar) == ref


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_reference(text)
    assert message in str(exc.value)


def test_table_size() -> None:
    assert len(VALID) + len(INVALID) >= 60


def test_brief_message_exact() -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_reference("Busybox")
    assert str(exc.value) == (
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    )


def test_fields() -> None:
    ref = parse_reference("127.0.0.1:5000/team/app:1.2@" + D)
    assert ref == Reference("127.0.0.1:5000", "team/app", "1.2", D)
    assert ref.repository == "127.0.0.1:5000/team/app"


def test_default_tag() -> None:
    assert str(parse_reference("busybox").default_tag()) == "docker.io/library/busybox:latest"
    assert parse_reference("busybox:1").default_tag().tag == "1"
    by_digest = parse_reference("busybox@" + D).default_tag()
    assert by_digest.tag is None
    assert by_digest.digest == D


def test_with_tag_and_digest() -> None:
    ref = parse_reference("user/app")
    assert str(ref.with_tag("v1")) == "docker.io/user/app:v1"
    assert str(ref.with_digest(D)) == "docker.io/user/app@" + D
    assert ref.with_tag("v1").without_tag() == ref
    with pytest.raises(InvalidArgument):
        ref.with_tag("-bad")
    with pytest.raises(InvalidArgument):
        ref.with_digest("sha256:1234")


def test_frozen() -> None:
    ref = parse_reference("busybox")
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("localhost/app", True),
        ("localhost:5000/app", True),
        ("LOCALHOST:5000/app", True),
        ("127.0.0.1:5000/app", True),
        ("127.1.2.3/app", True),
        ("[::1]:5000/app", True),
        ("[::1]/app", True),
        ("busybox", False),
        ("10.0.0.1:5000/app", False),
        ("[2001:db8::1]/app", False),
        ("localhost.example.com/app", False),
        ("128.0.0.1/app", False),
    ],
)
def test_loopback(text: str, loopback: bool) -> None:
    assert parse_reference(text).is_loopback_registry() is loopback
