"""``cove cp``: files between a container and the host as tar streams.

GET /containers/{id}/archive returns a tar whose top entry is the source's
base name and an ``X-Docker-Container-Path-Stat`` header (base64 JSON stat);
PUT extracts a tar into a directory. Where the copy lands follows docker's
rules: into an existing directory under the source's name, otherwise as the
destination name itself.
"""

from __future__ import annotations

import os

from cove.cli.errors import CliError
from cove.cli.flags import BOOL, Flag, FlagSet
from cove.cli.transport import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterator
    from typing import Any

    from cove.cli.context import Context

GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27

CP = FlagSet("cove cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tcove cp [OPTIONS] "
             "SRC_PATH|- CONTAINER:DEST_PATH", "Copy files/folders between a container and "
             "the local filesystem", [
                 Flag("archive", "a", BOOL, help="Archive mode (copy all uid/gid information)"),
                 Flag("follow-link", "L", BOOL, help="Always follow symbol link in SRC_PATH"),
                 Flag("quiet", "q", BOOL, help="Suppress progress output during copy"),
             ], min_args=2, max_args=2)


def split_arg(arg: str) -> tuple[str, str]:
    """("container", "path") or ("", "local path"), as docker's splitCpArg."""
    if arg.startswith("/") or arg.startswith(".") or arg == "-":
        return "", arg
    container, colon, path = arg.partition(":")
    if not colon:
        return "", arg
    return container, path


def decode_stat(header: str) -> dict[str, Any]:
    import base64

    from cove import fastjson

    if not header:
        return {}
    try:
        doc = fastjson.loads(base64.b64decode(header + "=" * (-len(header) % 4)))
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def cmd_cp(ctx: Context, argv: list[str]) -> int:
    opts, (src, dst) = CP.parse(argv)
    src_c, src_path = split_arg(src)
    dst_c, dst_path = split_arg(dst)
    if src_c and dst_c:
        raise CliError("copying between containers is not supported")
    if not src_c and not dst_c:
        raise CliError("must specify at least one container source")
    if src_c:
        size = _copy_from(ctx, src_c, src_path, dst_path, opts.bool("follow_link"))
        where = dst_path
    else:
        size = _copy_to(ctx, src_path, dst_c, dst_path, opts.bool("archive"),
                        opts.bool("follow_link"))
        where = f"{dst_c}:{dst_path}"
    if not opts.bool("quiet") and dst_path != "-" and src_path != "-":
        from cove.cli.units import human_size

        ctx.err(f"Successfully copied {human_size(float(size))} to {where}\n")
    return 0


class _BodyReader:
    """A file object over a response body, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                break
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        self.count += len(data)
        return data


def _copy_from(ctx: Context, container: str, src: str, dst: str, follow: bool) -> int:
    path = f"/containers/{quote(container)}/archive"
    fetch = src
    keep_name: str | None = None
    if follow:
        # -L: fetch what the link points to, but name it as the link was named
        stat = _container_stat(ctx, container, src) or {}
        target = str(stat.get("linkTarget") or "")
        if target:
            fetch = target
            keep_name = os.path.basename(src.rstrip("/"))
    resp = ctx.client.request("GET", path, {"path": fetch})
    try:
        if dst == "-":
            out = ctx.stdout_bin
            total = 0
            for data in resp.iter_body():
                out.write(data)
                total += len(data)
            out.flush()
            return total
        stat = decode_stat(resp.headers.get("x-docker-container-path-stat", ""))
        src_is_dir = bool(int(stat.get("mode", 0) or 0) & GO_MODE_DIR)
        contents_only = src.endswith("/.")
        if os.path.isdir(dst):
            base, rename = dst, keep_name
            if contents_only:
                rename = "."
        else:
            parent = os.path.dirname(os.path.abspath(dst))
            if not os.path.isdir(parent):
                raise CliError(f"destination directory {parent} must exist")
            if dst.endswith("/") and not src_is_dir:
                raise CliError(f"destination directory {dst} must exist")
            if os.path.exists(dst) and src_is_dir:
                raise CliError(f"cannot copy directory to file: {dst}")
            base, rename = parent, os.path.basename(os.path.normpath(dst))
        reader = _BodyReader(resp.iter_body())
        _extract(reader, base, rename)
        return reader.count
    finally:
        resp.close()


def _rename(name: str, new_root: str | None) -> str:
    if new_root is None:
        return name
    head, sep, rest = name.lstrip("/").partition("/")
    if new_root == ".":
        return rest if sep else "."
    return new_root + (sep + rest if sep else "")


def _extract(reader: _BodyReader, base: str, new_root: str | None) -> None:
    import tarfile

    class NoChown(tarfile.TarFile):
        # docker cp writes files as the user running the CLI, whatever the
        # container's ids were; as root tarfile would otherwise chown.
        def chown(self, tarinfo: tarfile.TarInfo, targetpath: Any,
                  numeric_owner: bool) -> None:
            return None

    # Python before 3.11.4 has no extraction filters; the checks in _safe_member
    # apply everywhere, the "tar" filter is added where it exists.
    extra: dict[str, Any] = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
    root = os.path.realpath(base)
    try:
        with NoChown.open(fileobj=reader, mode="r|*") as tar:  # type: ignore[arg-type]
            for member in tar:
                member.name = _rename(member.name, new_root)
                if member.islnk():
                    member.linkname = _rename(member.linkname, new_root)
                if member.name in (".", ""):
                    continue
                _safe_member(member, root)
                tar.extract(member, base, **extra)
    except (tarfile.TarError, OSError) as e:
        raise CliError(f"failed to extract the archive into {base}: {e}") from None


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _safe_member(member: tarfile.TarInfo, root: str) -> None:
    """Refuse entries that would land outside ``root`` (absolute, "..", via a symlink)."""
    import tarfile

    name = member.name
    parts = name.split("/")
    if name.startswith("/") or ".." in parts:
        raise tarfile.TarError(f"refusing to extract {name!r}: outside the destination")
    parent = os.path.realpath(os.path.join(root, os.path.dirname(name)))
    if not _inside(root, parent):
        raise tarfile.TarError(f"refusing to extract {name!r}: its directory is a link "
                               "out of the destination")
    if member.islnk():
        target = os.path.normpath(os.path.join(root, member.linkname))
        if member.linkname.startswith("/") or not _inside(root, target):
            raise tarfile.TarError(f"refusing hard link {name!r} -> {member.linkname!r}")


def _container_stat(ctx: Context, container: str, path: str) -> dict[str, Any] | None:
    resp = ctx.client.request("HEAD", f"/containers/{quote(container)}/archive",
                              {"path": path}, check=False)
    try:
        if resp.status == 404:
            # A HEAD answer has no body to say whether the container or the path is
            # missing: ask for the container, whose absence is the error to report.
            ctx.client.get_json(f"/containers/{quote(container)}/json")
            return None
        resp.raise_for_status()
        return decode_stat(resp.headers.get("x-docker-container-path-stat", ""))
    finally:
        resp.close()


def _copy_to(ctx: Context, src: str, container: str, dst: str, archive: bool,
             follow: bool) -> int:
    put_path = f"/containers/{quote(container)}/archive"
    if src == "-":
        resp = ctx.client.request("PUT", put_path, {"path": dst, "noOverwriteDirNonDir": True},
                                  body=ctx.stdin, headers={"Content-Type": "application/x-tar"})
        resp.read()
        resp.close()
        return 0
    try:
        src_stat = os.stat(src) if follow else os.lstat(src)
    except OSError as e:
        raise CliError(f"lstat {os.path.abspath(src)}: {(e.strerror or str(e)).lower()}") \
            from None
    import stat as statmod

    src_is_dir = statmod.S_ISDIR(src_stat.st_mode)
    dst_stat = _container_stat(ctx, container, dst)
    contents_only = src.endswith("/.")
    if dst_stat is not None and int(dst_stat.get("mode", 0) or 0) & GO_MODE_DIR:
        target = dst
        root = "." if contents_only else os.path.basename(os.path.normpath(src))
    else:
        if dst_stat is not None and src_is_dir:
            raise CliError(f"cannot copy directory to file: {container}:{dst}")
        if dst_stat is None and dst.endswith("/") and not src_is_dir:
            raise CliError(f"Error response from daemon: Could not find the file {dst} in "
                           f"container {container}")
        target = os.path.dirname(dst.rstrip("/")) or "/"
        root = os.path.basename(os.path.normpath(dst))
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        size = _write_tar(tmp, src, root, archive, follow)
        length = tmp.tell()
        tmp.seek(0)
        resp = ctx.client.request("PUT", put_path,
                                  {"path": target, "noOverwriteDirNonDir": True},
                                  body=_sized(tmp, length),
                                  headers={"Content-Type": "application/x-tar"})
        resp.read()
        resp.close()
    return size


def _sized(f: Any, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        data = f.read(min(65536, remaining))
        if not data:
            break
        remaining -= len(data)
        yield data


def _write_tar(f: Any, src: str, root: str, archive: bool, follow: bool) -> int:
    import tarfile

    total = 0

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        nonlocal total
        total += info.size
        if not archive:
            info.uid = info.gid = 0
            info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT,
                      dereference=follow) as tar:
        src_clean = src[:-2] if src.endswith("/.") else src
        if root == ".":
            for entry in sorted(os.listdir(src_clean)):
                tar.add(os.path.join(src_clean, entry), arcname=entry, filter=owner)
        else:
            tar.add(src_clean, arcname=root, filter=owner)
    return total
