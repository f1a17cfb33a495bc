"""--change instructions applied to an image config."""

from __future__ import annotations

import pytest

from cove.errors import InvalidArgument
from cove.images.changes import apply_changes
from cove.oci.image import ImageConfig

BASE = ImageConfig(architecture="amd64", os="linux", diff_ids=(), env=("PATH=/bin", "A=1"))


def test_json_and_shell_forms() -> None:
    c = apply_changes(BASE, ['CMD ["a", "b c"]', "ENTRYPOINT run me", "CMD [broken"])
    assert c.entrypoint == ("/bin/sh", "-c", "run me")
    assert c.cmd == ("/bin/sh", "-c", "[broken")


def test_env_replaces_and_appends() -> None:
    c = apply_changes(BASE, ["ENV A=2 B='x y'", "env C legacy form"])
    assert c.env == ("PATH=/bin", "A=2", "B=x y", "C=legacy form")


def test_workdir_label_expose_volume_user_stopsignal() -> None:
    c = apply_changes(BASE, ["WORKDIR /a", "WORKDIR b/../c", "LABEL x=1 y=\"2 3\"",
                             "EXPOSE 80 80/tcp 1000-1010/udp", "VOLUME /v /w",
                             'VOLUME ["/x"]', "USER nobody", "STOPSIGNAL 9"])
    assert c.working_dir == "/a/c"
    assert c.labels == {"x": "1", "y": "2 3"}
    assert c.exposed_ports == ("80/tcp", "1000-1010/udp")
    assert c.volumes == ("/v", "/w", "/x")
    assert (c.user, c.stop_signal) == ("nobody", "9")


@pytest.mark.parametrize("change", ["RUN x", "ADD a b", "HEALTHCHECK NONE", "", "ENV",
                                    "LABEL novalue", "EXPOSE 70000", "EXPOSE 80/xyz",
                                    "ENV =x", "STOPSIGNAL -1"])
def test_refused(change: str) -> None:
    with pytest.raises(InvalidArgument):
        apply_changes(BASE, [change])
