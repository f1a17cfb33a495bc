"""Docker's merge of the request's Config with the image's config."""

from __future__ import annotations

from typing import Any

import pytest

from cove.engine.ocispec import (
    DEFAULT_PATH,
    MergedConfig,
    merge_config,
    merge_env,
    parse_create_request,
    parse_image_config,
)
from cove.errors import InvalidArgument

CID = "feedfacecafe0123456789"


def merged(body: dict[str, Any], image: dict[str, Any] | None = None) -> MergedConfig:
    return merge_config(parse_create_request(body).config, parse_image_config(image or {}),
                        container_id=CID)


def test_env_image_then_container_by_key() -> None:
    env = merge_env(("PATH=/img", "A=1", "B=2"), ("B=3", "C=4"))
    assert env == ("PATH=/img", "A=1", "B=3", "C=4")


def test_env_path_default_when_absent() -> None:
    assert merge_env(("A=1",), None) == (f"PATH={DEFAULT_PATH}", "A=1")


def test_env_bare_key_removes() -> None:
    assert merge_env(("PATH=/p", "A=1"), ("A",)) == ("PATH=/p",)


def test_env_empty_key_refused() -> None:
    with pytest.raises(InvalidArgument, match=r'invalid Env\[0\]: "=x"'):
        merge_env((), ("=x",))


@pytest.mark.parametrize(("body", "image", "argv"), [
    ({}, {"Entrypoint": ["/e"], "Cmd": ["c"]}, ("/e", "c")),
    ({"Cmd": ["x"]}, {"Entrypoint": ["/e"], "Cmd": ["c"]}, ("/e", "x")),
    ({"Entrypoint": ["/n"]}, {"Entrypoint": ["/e"], "Cmd": ["c"]}, ("/n",)),
    ({"Entrypoint": ["/n"], "Cmd": ["x"]}, {"Entrypoint": ["/e"], "Cmd": ["c"]}, ("/n", "x")),
    ({"Entrypoint": [""], "Cmd": ["x"]}, {"Entrypoint": ["/e"], "Cmd": ["c"]}, ("x",)),
    ({"Entrypoint": [], "Cmd": ["x"]}, {"Entrypoint": ["/e"], "Cmd": ["c"]}, ("x",)),
    ({"Entrypoint": []}, {"Entrypoint": ["/e"], "Cmd": ["c"]}, ("c",)),
    ({"Cmd": []}, {"Cmd": ["c"]}, ("c",)),
    ({"Entrypoint": "/bin/sh"}, {}, ("/bin/sh",)),
])
def test_entrypoint_and_cmd(body: dict[str, Any], image: dict[str, Any],
                            argv: tuple[str, ...]) -> None:
    assert merged(body, image).argv == argv


def test_empty_entrypoint_without_cmd_is_no_command() -> None:
    with pytest.raises(InvalidArgument, match="No command specified"):
        merged({"Entrypoint": [""]}, {"Entrypoint": ["/e"], "Cmd": ["c"]})


def test_working_dir_user_and_precedence() -> None:
    m = merged({"Cmd": ["x"]}, {"WorkingDir": "/img/", "User": "img"})
    assert (m.working_dir, m.user) == ("/img", "img")
    m = merged({"Cmd": ["x"], "WorkingDir": "/a/../b", "User": "me"},
               {"WorkingDir": "/img", "User": "img"})
    assert (m.working_dir, m.user) == ("/b", "me")
    assert merged({"Cmd": ["x"]}).working_dir == ""


def test_relative_working_dir_refused() -> None:
    with pytest.raises(InvalidArgument, match="the working directory 'rel' is invalid, it "
                                              "needs to be an absolute path"):
        merged({"Cmd": ["x"], "WorkingDir": "rel"})


def test_stop_signal() -> None:
    assert merged({"Cmd": ["x"]}).stop_signal == 15
    assert merged({"Cmd": ["x"]}, {"StopSignal": "SIGQUIT"}).stop_signal == 3
    assert merged({"Cmd": ["x"], "StopSignal": "9"}, {"StopSignal": "SIGQUIT"}).stop_signal == 9
    with pytest.raises(InvalidArgument, match="Invalid signal: SIGNOPE"):
        merged({"Cmd": ["x"], "StopSignal": "SIGNOPE"})


def test_labels_hostname_ports_volumes() -> None:
    m = merged({"Cmd": ["x"], "Labels": {"a": "c", "z": "1"},
                "ExposedPorts": {"81/tcp": {}}, "Volumes": {"/v2": {}}},
               {"Labels": {"a": "b", "i": "2"}, "ExposedPorts": {"80/tcp": {}},
                "Volumes": {"/v1": {}}})
    assert m.labels == {"a": "c", "i": "2", "z": "1"}
    assert m.exposed_ports == ("80/tcp", "81/tcp")
    assert m.volumes == ("/v1", "/v2")
    assert m.hostname == CID[:12]
    assert merged({"Cmd": ["x"], "Hostname": "web"}).hostname == "web"


@pytest.mark.parametrize("name", ["x" * 65, "a/b", "a b"])
def test_bad_hostname(name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid Hostname"):
        merged({"Cmd": ["x"], "Hostname": name})


def test_healthcheck_merge() -> None:
    image = {"Healthcheck": {"Test": ["CMD", "probe"], "Interval": 5_000_000_000,
                             "Retries": 3}}
    m = merged({"Cmd": ["x"]}, image)
    assert m.healthcheck is not None and m.healthcheck.test == ("CMD", "probe")
    m = merged({"Cmd": ["x"], "Healthcheck": {"Timeout": 2_000_000}}, image)
    assert m.healthcheck is not None
    assert (m.healthcheck.test, m.healthcheck.interval_ns, m.healthcheck.timeout_ns,
            m.healthcheck.retries) == (("CMD", "probe"), 5_000_000_000, 2_000_000, 3)
    m = merged({"Cmd": ["x"], "Healthcheck": {"Test": ["NONE"]}}, image)
    assert m.healthcheck is not None and m.healthcheck.disabled
