"""Named and anonymous volumes with the ``local`` driver (data under <root>/volumes)."""

from cove.engine.volumes.model import ANONYMOUS_LABEL, PROTECT_LABEL, Volume
from cove.engine.volumes.service import VolumeService

__all__ = ["ANONYMOUS_LABEL", "PROTECT_LABEL", "Volume", "VolumeService"]
