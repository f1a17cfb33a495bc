"""One pull for ``POST /images/create``: docker's error wording, and pulls that meet.

Two clients pulling images that share a blob at the same moment meet at the content
store's ingest lock: one downloads, the other gets IngestLocked.  Docker makes the
second wait for the first; so does this module, by trying again once the first is
done (what it finished is then "Already exists"), saying so on the stream.
"""

from __future__ import annotations

import logging
import time

from cove.content.errors import IngestLocked
from cove.engine.image_registry import pull_error, repository_exists
from cove.engine.image_stream import Cancelled, Sink
from cove.errors import CoveError, NotFound
from cove.images.reference import Reference
from cove.images.service import ImageRecord, ImageService
from cove.registry import CredentialStore

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
MAX_WAIT_SECONDS = 30 * 60  # a stuck writer should not hold a client forever


def pull_image(images: ImageService, ref: Reference, *, platform: str | None,
               credentials: CredentialStore | None, sink: Sink) -> ImageRecord:
    """Pull ``ref`` with progress on ``sink``; registry refusals in docker's words."""
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while True:
        try:
            return images.pull(str(ref), platform=platform, credentials=credentials,
                               events=sink)
        except IngestLocked:
            if time.monotonic() > deadline:
                raise
            log.info("pull %s: another pull writes a blob it needs; waiting", ref)
            # Also the point where a client that left is noticed (the sink raises).
            sink({"status": "Waiting for another pull of the same content",
                  "id": ref.tag or ref.digest or ""})
            time.sleep(RETRY_SECONDS)
        except Cancelled:
            raise
        except NotFound as e:
            known = repository_exists(ref, images.certs_dir, credentials)
            raise pull_error(e, ref, known) from None
        except CoveError as e:
            raise pull_error(e, ref) from None


__all__ = ["pull_image"]
