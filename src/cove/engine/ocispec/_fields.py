"""Typed reads of one JSON object of a create request, with errors that name the field.

Every parse function in this package goes through :class:`Fields`, so each bad
value is reported the same way: ``invalid HostConfig.Memory: -5 (must be >= 0)``.
JSON ``null`` counts as absent, as it does for Docker's Go decoder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import NoReturn

from cove.errors import InvalidArgument

__all__ = ["Fields", "show"]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def show(value: object) -> str:
    """A value as it appeared in the request: strings quoted, containers as JSON."""
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


class Fields:
    """One JSON object at ``where`` (a dotted path, '' for the request body)."""

    def __init__(self, obj: object, where: str) -> None:
        if obj is None:
            obj = {}
        if not isinstance(obj, Mapping):
            raise InvalidArgument(f"invalid {where or 'request body'}: {show(obj)} "
                                  f"(must be an object, not {_type_name(obj)})")
        self.obj: Mapping[str, object] = obj
        self.where = where

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, value: object, why: str) -> NoReturn:
        raise InvalidArgument(f"invalid {self.name(key)}: {show(value)} ({why})")

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def raw(self, key: str) -> object:
        return self.obj.get(key)

    def text(self, key: str, default: str = "") -> str:
        value = self.obj.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(key, value, f"must be a string, not {_type_name(value)}")
        if "\x00" in value:
            self.fail(key, value, "must not contain NUL")
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.obj.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, value, f"must be a boolean, not {_type_name(value)}")
        return value

    def opt_flag(self, key: str) -> bool | None:
        return self.flag(key) if self.has(key) else None

    def number(self, key: str, default: int = 0, *, minimum: int = _INT64_MIN,
            maximum: int = _INT64_MAX) -> int:
        value = self.obj.get(key)
        if value is None:
            return default
        return self.check_int(key, value, minimum, maximum)

    def opt_number(self, key: str, *, minimum: int = _INT64_MIN,
                maximum: int = _INT64_MAX) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        return self.check_int(key, value, minimum, maximum)

    def check_int(self, key: str, value: object, minimum: int = _INT64_MIN,
                  maximum: int = _INT64_MAX) -> int:
        # bool is an int in Python but not in JSON; floats are refused as Go's decoder
        # refuses them for int64 fields.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, value, f"must be an integer, not {_type_name(value)}")
        if value < minimum:
            self.fail(key, value, f"must be >= {minimum}")
        if value > maximum:
            self.fail(key, value, f"must be <= {maximum}")
        return value

    def str_list(self, key: str, *, allow_string: bool = False) -> list[str] | None:
        """A list of strings (None when absent); ``allow_string``: a lone string is a
        one-item list, as Docker's StrSlice fields (Cmd, Entrypoint) accept."""
        value = self.obj.get(key)
        if value is None:
            return None
        if allow_string and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(key, value, f"must be an array of strings, not {_type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{i}]", item, f"must be a string, not {_type_name(item)}")
            if "\x00" in item:
                self.fail(f"{key}[{i}]", item, "must not contain NUL")
        return list(value)

    def str_map(self, key: str) -> dict[str, str]:
        value = self.obj.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, value, f"must be an object of strings, not {_type_name(value)}")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(v, str):
                self.fail(f"{key}[{k}]", v, f"must be a string, not {_type_name(v)}")
            out[k] = v
        return out

    def key_set(self, key: str) -> list[str]:
        """An object used as a set (ExposedPorts, Volumes): its keys; values must be {}."""
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, Mapping):
            self.fail(key, value, f"must be an object, not {_type_name(value)}")
        for k, v in value.items():
            if v is not None and not isinstance(v, Mapping):
                self.fail(f"{key}[{k}]", v, "must be an empty object")
        return list(value)

    def sub(self, key: str) -> Fields:
        return Fields(self.obj.get(key), self.name(key))

    def opt_sub(self, key: str) -> Fields | None:
        return self.sub(key) if self.has(key) else None

    def objects(self, key: str) -> Iterator[Fields]:
        value = self.obj.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            self.fail(key, value, f"must be an array, not {_type_name(value)}")
        for i, item in enumerate(value):
            yield Fields(item, f"{self.name(key)}[{i}]")

    def items(self, key: str) -> list[object]:
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, value, f"must be an array, not {_type_name(value)}")
        return list(value)
