"""/images/... and /auth: list, inspect, history, tag, remove, pull, push, import,
save, load, prune, search, and the registry login check.

Handlers parse and answer; the work is the image service's and the engine's
image_* modules'.  Long registry operations stream docker's JSON progress
messages (see :mod:`cove.engine.image_stream`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from cove.api.http import (
    BadRequest,
    BodyReader,
    BytesResponse,
    Request,
    Response,
    StreamResponse,
    empty_response,
    json_response,
)
from cove.api.router import Router
from cove.engine import image_archive
from cove.engine.image_delete import delete_image
from cove.engine.image_pull import pull_image
from cove.engine.image_registry import (
    AUTH_HEADER,
    check_login,
    credentials_for,
    decode_auth_header,
)
from cove.engine.image_stream import (
    ProgressStream,
    Sink,
    json_line,
    piped,
    worker_service,
)
from cove.errors import InvalidArgument, NotFound, Unsupported
from cove.images.reference import Reference, parse_reference
from cove.registry import CredentialStore, RegistryClient

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext
    from cove.images.service import ImageService

log = logging.getLogger(__name__)

_DIGEST_ALGORITHMS = ("sha256:", "sha384:", "sha512:")


class _BodyStream:
    """The request body as the binary file the archive readers expect."""

    def __init__(self, body: BodyReader) -> None:
        self._body = body

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(self._body))
        return self._body.read(n) if n else b""


def _body_stream(req: Request) -> BinaryIO:
    return cast(BinaryIO, _BodyStream(req.body))


def _reference(text: str, what: str) -> Reference:
    if not text:
        raise BadRequest(f"{what}: an image name is required")
    return parse_reference(text)


def _with_tag(ref: Reference, tag: str) -> Reference:
    """``fromImage`` plus docker's separate ``tag`` parameter (a tag or a digest)."""
    if tag.startswith(_DIGEST_ALGORITHMS):
        return ref.without_tag().with_digest(tag)
    return ref.with_tag(tag)


def _json_lines(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(json_line(m) for m in messages)


def _shared_sizes(images: ImageService, items: list[dict[str, Any]]) -> None:
    """SharedSize: the bytes of an image's layers that other listed images hold too."""
    chains: dict[str, tuple[str, ...]] = {}
    for item in items:
        try:
            chains[item["Id"]] = images.get(item["Id"]).chain
        except (NotFound, InvalidArgument):
            chains[item["Id"]] = ()
    users = Counter(key for chain in chains.values() for key in set(chain))
    sizes: dict[str, int] = {}
    for item in items:
        total = 0
        for key in chains[item["Id"]]:
            if users[key] > 1:
                if key not in sizes:
                    try:
                        sizes[key] = images.snapshotter.usage(key).size
                    except NotFound:
                        sizes[key] = 0
                total += sizes[key]
        item["SharedSize"] = total


def register(router: Router, ctx: DaemonContext) -> None:
    images = ctx.images

    def event(action: str, actor: str, name: str | None = None) -> None:
        ctx.events.emit("image", action, actor, {"name": name or actor})

    # -- reading ---------------------------------------------------------------------------

    @router.get("/images/json")
    def list_(req: Request) -> Response:
        filters = req.json_filters()
        req.flag("all")  # no intermediate images here: all and top-level are the same
        items = images.list(filters)
        if req.flag("shared-size"):
            _shared_sizes(images, items)
        return json_response(items)

    @router.get("/images/{name:path}/json")
    def inspect(req: Request) -> Response:
        return json_response(_inspect_view(images.inspect(req.params["name"])))

    @router.get("/images/{name:path}/history")
    def history(req: Request) -> Response:
        return json_response(images.history(req.params["name"]))

    @router.get("/images/search")
    def search(req: Request) -> Response:
        term = req.arg("term") or ""
        raise Unsupported(
            f"search for {term!r} is not supported: Cove has no default registry to search; "
            "pull by full name (e.g. 127.0.0.1:5000/team/app:1.2)")

    # -- names -----------------------------------------------------------------------------

    @router.post("/images/{name:path}/tag")
    def tag(req: Request) -> Response:
        source = req.params["name"]
        repo = req.arg("repo") or ""
        if not repo:
            raise BadRequest("repo is required: the repository to tag the image into")
        target = _reference(repo, "repo")
        if target.digest is not None:
            raise BadRequest("refusing to create a tag with a digest reference")
        tag_arg = req.arg("tag") or ""
        if tag_arg:
            target = target.with_tag(tag_arg)
        target = target.default_tag()
        record = images.tag(source, str(target))
        event("tag", record.id, target.familiar())
        return empty_response(201)

    @router.delete("/images/{name:path}")
    def remove(req: Request) -> Response:
        req.flag("noprune")  # images have no parent chain here: nothing else to prune
        result = delete_image(images, ctx.containers.store.all(), ctx.events,
                              req.params["name"], force=req.flag("force"))
        return json_response(result)

    @router.post("/images/prune")
    def prune(req: Request) -> Response:
        filters = req.json_filters()
        all_images = False
        for value in filters.pop("dangling", []):
            lowered = value.strip().lower()
            if lowered in ("true", "1"):
                all_images = False
            elif lowered in ("false", "0"):
                all_images = True
            else:
                raise BadRequest(f"invalid filter 'dangling={value}'")
        deleted, freed = images.prune(all=all_images, filters=filters)
        for item in deleted:
            if "Untagged" in item:
                event("untag", item["Untagged"])
            if "Deleted" in item:
                event("delete", item["Deleted"])
        return json_response({"ImagesDeleted": deleted, "SpaceReclaimed": freed})

    # -- registries ------------------------------------------------------------------------

    @router.post("/auth")
    def auth(req: Request) -> Response:
        return json_response(check_login(req.json(required=True), ctx.config.certs_dir))

    @router.post("/images/create")
    def create(req: Request) -> Response:
        from_image = req.arg("fromImage") or ""
        from_src = req.arg("fromSrc") or ""
        if from_image:
            return _pull(req, from_image)
        if from_src:
            return _import(req, from_src)
        raise BadRequest("fromImage or fromSrc is required")

    def _pull(req: Request, from_image: str) -> Response:
        ref = _reference(from_image, "fromImage")
        tag_arg = req.arg("tag") or ""
        if tag_arg:
            ref = _with_tag(ref, tag_arg)
        platform = req.arg("platform") or None
        creds = credentials_for(decode_auth_header(req.headers.get(AUTH_HEADER)))
        req.body.drain()

        def work(sink: Sink) -> None:
            svc = worker_service(images)
            try:
                refs = [ref]
                if ref.name_only:  # docker pull --all-tags
                    refs = [ref.with_tag(t) for t in _remote_tags(svc, ref, creds)]
                for one in refs:
                    pull_image(svc, one, platform=platform, credentials=creds, sink=sink)
                    event("pull", one.familiar(), one.familiar_name())
            finally:
                svc.close()

        stream = ProgressStream(work, name=f"pull {ref.familiar()}",
                                client_gone=req.client_gone)
        return StreamResponse(stream.start())

    def _import(req: Request, from_src: str) -> Response:
        repo = req.arg("repo") or ""
        name: str | None = None
        if repo:
            ref = _reference(repo, "repo")
            tag_arg = req.arg("tag") or ""
            if tag_arg:
                ref = ref.with_tag(tag_arg)
            name = str(ref.default_tag())
        changes = [c for c in req.query.get("changes", []) if c]
        source: BinaryIO | str = _body_stream(req) if from_src == "-" else from_src
        record = image_archive.import_image(images, source, repo=name, changes=changes,
                                            message=req.arg("message"))
        event("import", record.id, parse_reference(name).familiar() if name else record.id)
        return BytesResponse(_json_lines([{"status": record.id}]))

    @router.post("/images/{name:path}/push")
    def push(req: Request) -> Response:
        ref = _reference(req.params["name"], "name")
        tag_arg = req.arg("tag") or ""
        if tag_arg:
            refs = [ref.without_tag().with_tag(tag_arg)]
        elif ref.tag is not None:
            refs = [ref]
        else:  # docker push --all-tags
            refs = [parse_reference(i.name) for i in images.metadata.list_images()
                    if not i.dangling and parse_reference(i.name).repository == ref.repository]
        if not refs:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar()}")
        for one in refs:
            try:
                images.metadata.get_image(str(one))
            except NotFound:
                raise NotFound(f"An image does not exist locally with the tag: "
                               f"{one.familiar()}") from None
        creds = credentials_for(_push_auth(req))

        def work(sink: Sink) -> None:
            svc = worker_service(images)
            try:
                for one in refs:
                    svc.push(str(one), credentials=creds, events=sink)
                    event("push", one.familiar(), one.familiar_name())
            finally:
                svc.close()

        stream = ProgressStream(work, name=f"push {ref.familiar()}",
                                client_gone=req.client_gone)
        return StreamResponse(stream.start())

    # -- archives --------------------------------------------------------------------------

    def _save(names: list[str]) -> Response:
        if not names:
            raise BadRequest("names is required: the images to save")
        selected = image_archive.select_for_save(images, names)
        store = images.content
        for name, desc in selected:
            image_id = images.get(desc.digest).id  # the actor is the image ID, as docker's
            event("save", image_id, parse_reference(name).familiar() if name else None)
        return StreamResponse(
            piped(lambda out: image_archive.save(store, selected, out), name="save"),
            content_type="application/x-tar")

    @router.get("/images/get")
    def save_many(req: Request) -> Response:
        names = [n for value in req.query.get("names", []) for n in value.split(",") if n]
        return _save(names)

    @router.get("/images/{name:path}/get")
    def save_one(req: Request) -> Response:
        return _save([req.params["name"]])

    @router.post("/images/load")
    def load(req: Request) -> Response:
        req.flag("quiet")  # no progress bars are sent either way; the names always are
        loaded = image_archive.load(images, _body_stream(req))
        messages = []
        for name, record in loaded:
            messages.append({"stream": image_archive.loaded_message(name, record)})
            event("load", record.id, parse_reference(name).familiar() if name else None)
        return BytesResponse(_json_lines(messages))


def _inspect_view(info: dict[str, Any]) -> dict[str, Any]:
    """ImageInspect as API 1.47 has it: the run config's unset fields are left out
    (the spec's ImageConfig has no nullable object or array), as docker 25+ does."""
    config = info.get("Config")
    if isinstance(config, dict):
        info["Config"] = {k: v for k, v in config.items() if v is not None}
    return info


def _push_auth(req: Request) -> dict[str, str]:
    """The push's AuthConfig: the header, else (old clients) a JSON body, else none."""
    header = req.headers.get(AUTH_HEADER)
    if header:
        return decode_auth_header(header)
    body = req.json()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("push: the body must be a JSON auth config")
    return {str(k).lower(): str(v) for k, v in body.items() if isinstance(v, str)}


def _remote_tags(images: ImageService, ref: Reference,
                 creds: CredentialStore | None) -> Iterator[str]:
    with RegistryClient(ref.domain, certs_dir=images.certs_dir, credentials=creds) as client:
        tags = client.tags(ref.path)
    if not tags:
        raise NotFound(f"repository {ref.familiar_name()} has no tags")
    return iter(sorted(tags))


__all__ = ["register"]
