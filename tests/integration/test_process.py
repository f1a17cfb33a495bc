"""The configured process: user, groups, env, cwd, rlimits, capabilities, no_new_privs, ..."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.helpers import Runtime, base_config


def run_sh(runtime: Runtime, make_bundle: Callable[..., Path], cid: str, script: str,
           **process: object) -> str:
    cfg = base_config(["sh", "-c", script], **process)
    return runtime.run_to_end(cid, make_bundle(cfg))


def status_field(out: str, name: str) -> str:
    for line in out.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {out!r}")


def test_user_and_groups(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    out = run_sh(runtime, make_bundle, cid, "id; umask",
                 user={"uid": 1000, "gid": 1000, "additionalGids": [10, 65534], "umask": 0o027})
    assert "uid=1000(user) gid=1000(user)" in out
    assert "10(wheel)" in out and "65534(nogroup)" in out
    assert "0027" in out


def test_env_cwd_and_pid1(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    out = run_sh(runtime, make_bundle, cid, 'echo "$FOO|$$|$(pwd)"', cwd="/tmp",
                 env=["PATH=/bin", "FOO=bar baz"])
    assert out.strip() == "bar baz|1|/tmp"


def test_cwd_created_if_missing(runtime: Runtime, make_bundle: Callable[..., Path],
                                private_rootfs: Path, cid: str) -> None:
    cfg = base_config(["pwd"], cwd="/work/dir")
    out = runtime.run_to_end(cid, make_bundle(cfg, rootfs=private_rootfs))
    assert out.strip() == "/work/dir"


def test_rlimits(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    out = run_sh(runtime, make_bundle, cid, "ulimit -n; ulimit -Hn; ulimit -c",
                 rlimits=[{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                          {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}])
    assert out.split() == ["321", "654", "0"]


def test_capabilities_and_no_new_privs(runtime: Runtime, make_bundle: Callable[..., Path],
                                       cid: str) -> None:
    caps = {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]}
    out = run_sh(runtime, make_bundle, cid, "cat /proc/self/status", capabilities=caps,
                 noNewPrivileges=True, user={"uid": 1000, "gid": 1000})
    kill, chown = 1 << 5, 1 << 0
    assert int(status_field(out, "CapBnd"), 16) == kill | chown
    # After exec as non-root: ambient caps become permitted and effective.
    assert int(status_field(out, "CapAmb"), 16) == kill
    assert int(status_field(out, "CapEff"), 16) == kill
    assert int(status_field(out, "CapInh"), 16) == kill
    assert status_field(out, "NoNewPrivs") == "1"


def test_no_new_privs_off(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    out = run_sh(runtime, make_bundle, cid, "cat /proc/self/status", noNewPrivileges=False)
    assert status_field(out, "NoNewPrivs") == "0"


def test_oom_score_adj(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    out = run_sh(runtime, make_bundle, cid, "cat /proc/self/oom_score_adj", oomScoreAdj=123)
    assert out.strip() == "123"


def test_no_host_fd_leaks(runtime: Runtime, make_bundle: Callable[..., Path], cid: str,
                          tmp_path: Path) -> None:
    leak = os.open(tmp_path, os.O_RDONLY)  # a host directory fd (the CVE-2024-21626 shape)
    try:
        bundle = make_bundle(base_config(["ls", "/proc/self/fd"]))
        runtime.create(cid, bundle, pass_fds=(leak,))
        runtime.run("start", cid)
        runtime.wait_stopped(cid)
        fds = sorted(int(x) for x in runtime.output(cid).split())
        # 0-2 and the directory fd `ls` itself opened
        assert fds == [0, 1, 2, 3], fds
    finally:
        os.close(leak)


def test_preserve_fds(runtime: Runtime, make_bundle: Callable[..., Path], cid: str,
                      tmp_path: Path) -> None:
    rfd, wfd = os.pipe()
    try:
        bundle = make_bundle(base_config(["sh", "-c", "echo through-fd3 >&3"]))
        # fd 3 of the runtime (and so of the container) is the pipe; dup2 in the child
        # only: fd 3 of this process belongs to pytest.
        runtime.create(cid, bundle, "--preserve-fds", "1", pass_fds=(3,),
                       preexec_fn=lambda: os.dup2(wfd, 3))
        os.close(wfd)
        wfd = -1
        runtime.run("start", cid)
        runtime.wait_stopped(cid)
        assert os.read(rfd, 100) == b"through-fd3\n"
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)


def test_executable_not_found(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                              ) -> None:
    res = runtime.create(cid, make_bundle(base_config(["no-such-binary"])), check=False)
    assert res.returncode != 0
    out = runtime.output(cid)
    assert "no-such-binary" in out and "executable file not found in $PATH" in out
    assert not (runtime.root / cid).exists()


def test_runtime_binary_not_openable(runtime: Runtime, make_bundle: Callable[..., Path],
                                     cid: str) -> None:
    """While the runtime's Python sits in the container (created), the container must not
    reach its executable (CVE-2019-5736): the process is non-dumpable."""
    runtime.create(cid, make_bundle(base_config(["true"])))
    res = runtime.run("exec", cid, "sh", "-c",
                      "cat /proc/1/exe >/dev/null && echo READABLE; "
                      "readlink /proc/1/exe || echo denied", check=False)
    out = res.stdout.decode() + res.stderr.decode()
    assert "READABLE" not in out
    assert "denied" in out
