"""``docker rmi`` as the Engine API's ``DELETE /images/{name}`` does it.

Docker's rules, which clients (and people) rely on:

- By name: the name is untagged.  When it is the image's only name and a container
  (running or stopped) was made from the image, the untag is refused unless forced
  (``unable to remove repository reference``), because the image would be left
  nameless under a container.  Forced, the name goes; the image is deleted too
  unless a running container uses it, in which case it stays, dangling.  When no
  other name and no container is left, the image is deleted.
- By ID: every name goes and the image is deleted.  A running container using it is
  a conflict even when forced (``cannot be forced``); a stopped one, or several
  names, only without force (``must be forced``).

The containers are the engine's records (``image_id``), so a stopped container
counts as much as a running one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from cove.engine.containers.model import Container
from cove.engine.events import EventLog
from cove.errors import Conflict, InvalidArgument, NotFound
from cove.images.reference import parse_reference
from cove.images.service import ImageRecord, ImageService
from cove.metadata.store import DANGLING_PREFIX

log = logging.getLogger(__name__)


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class Users:
    """The containers made from one image, running ones apart."""

    running: list[Container]
    stopped: list[Container]

    @classmethod
    def of(cls, image_id: str, containers: Iterable[Container]) -> Users:
        mine = sorted((c for c in containers if c.image_id == image_id), key=lambda c: c.id)
        return cls([c for c in mine if c.state.running],
                   [c for c in mine if not c.state.running])

    @property
    def any(self) -> Container | None:
        mine = self.running or self.stopped
        return mine[0] if mine else None


def _stored_name(images: ImageService, ref: str) -> str | None:
    """The stored (normalized) name ``ref`` names, or None when ``ref`` is an ID."""
    try:
        name = str(parse_reference(ref).default_tag())
    except InvalidArgument:
        return None
    try:
        images.metadata.get_image(name)
    except NotFound:
        return None
    return name


def _familiar(name: str) -> str:
    try:
        return parse_reference(name).familiar()
    except InvalidArgument:
        return name


def delete_image(images: ImageService, containers: Iterable[Container], events: EventLog,
                 ref: str, *, force: bool = False) -> list[dict[str, str]]:
    """Untag or delete the image ``ref`` names; docker's ``[{"Untagged"}, {"Deleted"}]``."""
    try:
        record = images.get(ref)
    except NotFound:
        raise NotFound(f"No such image: {ref}") from None
    users = Users.of(record.id, containers)
    names = [i for i in images.metadata.images_by_target(record.target.digest)
             if not i.dangling]
    name = _stored_name(images, ref)
    if name is not None:
        return _untag(images, events, record, ref, name, len(names), users, force)
    return _delete_by_id(images, events, record, ref, len(names), users, force)


def _untag(images: ImageService, events: EventLog, record: ImageRecord, ref: str, name: str,
           name_count: int, users: Users, force: bool) -> list[dict[str, str]]:
    user = users.any
    if name_count == 1 and user is not None:
        if not force:
            raise Conflict(
                f'conflict: unable to remove repository reference "{ref}" (must force) - '
                f"container {user.short_id} is using its referenced image "
                f"{short_id(record.id)}")
        if not users.running:
            # Forced past stopped containers only: deleted as by ID (their layers
            # stay theirs in the store).
            result = images.remove(name, force=True)
            _emit(events, record.id, result)
            return result
        # Forced while a container runs from it: the name goes, the image stays,
        # dangling, as docker keeps it.
        image = images.metadata.get_image(name)
        images.metadata.put_image(DANGLING_PREFIX + record.target.digest, record.target,
                                  image.labels)
        images.metadata.delete_image(name, force=True)
        events.emit("image", "untag", record.id, {"name": _familiar(name)})
        return [{"Untagged": _familiar(name)}]
    result = images.remove(name, force=True)
    _emit(events, record.id, result)
    return result


def _delete_by_id(images: ImageService, events: EventLog, record: ImageRecord, ref: str,
                  name_count: int, users: Users, force: bool) -> list[dict[str, str]]:
    sid = short_id(record.id)
    if users.running:
        raise Conflict(f"conflict: unable to delete {sid} (cannot be forced) - image is being "
                       f"used by running container {users.running[0].short_id}")
    if not force and users.stopped:
        raise Conflict(f"conflict: unable to delete {sid} (must be forced) - image is being "
                       f"used by stopped container {users.stopped[0].short_id}")
    if not force and name_count > 1:
        raise Conflict(f"conflict: unable to delete {sid} (must be forced) - image is "
                       "referenced in multiple repositories")
    result = images.remove(ref, force=True)
    _emit(events, record.id, result)
    return result


def _emit(events: EventLog, image_id: str, result: list[dict[str, str]]) -> None:
    for item in result:
        if "Untagged" in item:
            events.emit("image", "untag", image_id, {"name": item["Untagged"]})
        if "Deleted" in item:
            events.emit("image", "delete", image_id, {"name": image_id})


__all__ = ["Users", "delete_image", "short_id"]
