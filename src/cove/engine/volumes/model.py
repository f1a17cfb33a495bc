"""A volume's record: what was asked at create, as the Engine API's Volume shows it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from cove.errors import InvalidArgument

# Docker's label on volumes it made for `-v /path` and an image's VOLUME.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
# Beyond Docker: no prune ever removes a volume carrying this label set to true.
PROTECT_LABEL = "cove.prune.protect"
LOCAL = "local"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path")
    return name


@dataclass
class Volume:
    name: str
    created_at: str
    mountpoint: str  # <root>/volumes/<name>/_data
    driver: str = LOCAL
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels

    @property
    def protected(self) -> bool:
        return self.labels.get(PROTECT_LABEL, "").lower() == "true"

    def to_api(self) -> dict[str, Any]:
        return {"CreatedAt": self.created_at, "Driver": self.driver,
                "Labels": dict(self.labels), "Mountpoint": self.mountpoint,
                "Name": self.name, "Options": dict(self.options), "Scope": "local"}

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Volume:
        known = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        return cls(**known)
