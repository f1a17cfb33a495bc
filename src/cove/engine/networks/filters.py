"""GET /networks?filters= and network prune's filters, with Docker's meanings."""

from __future__ import annotations

from collections.abc import Callable

from cove.engine.networks.model import Network
from cove.errors import InvalidArgument

LIST_KEYS = {"driver", "id", "label", "name", "scope", "type", "dangling"}


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        key, sep, value = w.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def list_matcher(filters: dict[str, list[str]],
                 in_use: Callable[[Network], bool]) -> Callable[[Network], bool]:
    for key in filters:
        if key not in LIST_KEYS:
            raise InvalidArgument(f"invalid filter '{key}'")
    for value in filters.get("type", []):
        if value not in ("custom", "builtin"):
            raise InvalidArgument(f"invalid filter: 'type'='{value}'")
    for value in filters.get("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")

    def match(net: Network) -> bool:
        if "driver" in filters and net.driver not in filters["driver"]:
            return False
        if "id" in filters and not any(v in net.id for v in filters["id"]):
            return False
        if "name" in filters and not any(v in net.name for v in filters["name"]):
            return False
        if "scope" in filters and "local" not in filters["scope"]:
            return False
        if "label" in filters and not _labels_match(net.labels, filters["label"]):
            return False
        if "type" in filters:
            kind = "builtin" if net.builtin else "custom"
            if kind not in filters["type"]:
                return False
        if "dangling" in filters:
            want = filters["dangling"][-1].lower() in ("true", "1")
            # Docker: dangling networks are unused custom ones.
            if want != (not net.builtin and not in_use(net)):
                return False
        return True

    return match
