"""PLACEHOLDER (to be replaced by the config validator): load a bundle's config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cove.errors import InvalidArgument


def load_config(bundle: Path) -> dict[str, Any]:
    try:
        with open(f"{bundle}/config.json", "rb") as f:
            cfg = json.load(f)
    except FileNotFoundError as exc:
        raise InvalidArgument(f"{bundle}/config.json: no such file") from exc
    if not isinstance(cfg, dict):
        raise InvalidArgument("config.json: not an object")
    return cfg
