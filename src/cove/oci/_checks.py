"""Combinators for fast structural checks of JSON-decoded documents.

A checker is a plain function ``check(value, path)`` that returns nothing or
raises :class:`Invalid` naming ``path`` (dotted, ``[i]`` for array items,
``["k"]`` for map keys that are not simple names). Checkers are built once, at
import time, from the tables in :mod:`cove.oci._config_schema`; validating is
then a walk over closures with exact ``type(v) is ...`` tests, which is what
makes it ~100x faster than a general JSON-Schema engine.

Values are expected to come from :func:`json.loads`, so only its types occur:
dict, list, str, int, float, bool and None. ``bool`` is never an integer here,
and a float is never an integer even when integral (JSON Schema draft-04).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the CLI path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

    Check = Callable[[object, str], None]
    Post = Callable[[dict[str, object], str], None]


class Invalid(Exception):
    """A value broke a rule: ``path`` says where, ``reason`` what is wrong."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def message(self, document: str) -> str:
        return f"{document}: {self.path}: {self.reason}" if self.path else \
            f"{document}: {self.reason}"


_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    dict: "object", list: "array", str: "string", int: "integer", float: "number",
    bool: "boolean", type(None): "null",
}
_ESCAPES: Final = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r",
                   ord("\t"): "\\t"}
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_-")


def quote(text: str) -> str:
    """``text`` in double quotes as JSON would show it, cut short if long."""
    if len(text) > 64:
        text = text[:61] + "..."
    return '"' + text.translate(_ESCAPES) + '"'


def describe(value: object) -> str:
    """The JSON type of ``value``, with the value itself for scalars (for messages)."""
    name = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    if type(value) is str:
        return f"{name} {quote(value)}"
    if type(value) in (int, float, bool):
        return f"{name} {str(value).lower() if type(value) is bool else value}"
    return name


def key_path(path: str, key: str) -> str:
    """The path of map entry ``key``: ``a.b`` for simple names, ``a["x.y"]`` otherwise."""
    if key and _NAME_CHARS.issuperset(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{quote(key)}]"


def expected(path: str, what: str, value: object) -> Invalid:
    return Invalid(path, f"expected {what}, got {describe(value)}")


# -- scalars ---------------------------------------------------------------------------------

def string(value: object, path: str) -> None:
    if type(value) is not str:
        raise expected(path, "a string", value)


def boolean(value: object, path: str) -> None:
    if type(value) is not bool:
        raise expected(path, "a boolean", value)


def an_object(value: object, path: str) -> None:
    """Any JSON object (sections of other platforms, which Linux ignores)."""
    if type(value) is not dict:
        raise expected(path, "an object", value)


def integer(low: int | None, high: int | None, kind: str) -> Check:
    """An integer within [low, high] (either end may be open); ``kind`` names the range."""
    def check(value: object, path: str) -> None:
        if type(value) is not int:
            raise expected(path, "an integer", value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise Invalid(path, _out_of_range(value, low, high, kind))
    return check


def _out_of_range(value: int, low: int | None, high: int | None, kind: str) -> str:
    if high is None:
        return f"{value} is out of range: {kind} must be at least {low}"
    if low is None:
        return f"{value} is out of range: {kind} must be at most {high}"
    return f"{value} is out of range for {kind} ({low} to {high})"


def one_of(noun: str, values: tuple[str, ...]) -> Check:
    """A string from a closed set; the error lists the set."""
    allowed = frozenset(values)
    listing = ", ".join(sorted(values))

    def check(value: object, path: str) -> None:
        if type(value) is not str:  # test first: a list or dict is unhashable
            raise expected(path, "a string", value)
        if value not in allowed:
            raise Invalid(path, f"unknown {noun} {quote(value)} (one of: {listing})")
    return check


def string_where(test: Callable[[str], bool], what: str) -> Check:
    """A string for which ``test`` holds; ``what`` completes "<value> is not ..."."""
    def check(value: object, path: str) -> None:
        if type(value) is not str:
            raise expected(path, "a string", value)
        if not test(value):
            raise Invalid(path, f"{quote(value)} is not {what}")
    return check


# -- containers ------------------------------------------------------------------------------

def strings(value: object, path: str) -> None:
    """An array of strings; the hot case (env, args, options) gets its own tight loop."""
    if type(value) is not list:
        raise expected(path, "an array", value)
    for i, item in enumerate(value):
        if type(item) is not str:
            raise expected(f"{path}[{i}]", "a string", item)


def array(item: Check, min_items: int = 0, unique: str = "", noun: str = "") -> Check:
    """An array of ``item``; with ``unique``, that field of the (object) items may not repeat."""
    def check(value: object, path: str) -> None:
        if type(value) is not list:
            raise expected(path, "an array", value)
        if len(value) < min_items:
            raise Invalid(path, f"must have at least {min_items} "
                                f"{'entry' if min_items == 1 else 'entries'}")
        for i, element in enumerate(value):
            item(element, f"{path}[{i}]")
        if unique:
            _check_unique(value, path, unique, noun)
    return check


def _check_unique(items: list[dict[str, object]], path: str, field: str, noun: str) -> None:
    first_at: dict[object, int] = {}
    for i, element in enumerate(items):
        key = element[field]  # present and a string: the item check required it
        if key in first_at:
            raise Invalid(f"{path}[{i}].{field}",
                          f"duplicate {noun} {quote(str(key))} (also at [{first_at[key]}])")
        first_at[key] = i


def obj(fields: dict[str, Check], required: tuple[str, ...] = (),
        post: Post | None = None) -> Check:
    """An object whose known ``fields`` are checked; unknown keys are ignored, as the spec
    demands ("Extensibility"). ``post`` runs after the fields for rules across them."""
    def check(value: object, path: str) -> None:
        if type(value) is not dict:
            raise expected(path, "an object", value)
        for key in required:
            if key not in value:
                raise Invalid(f"{path}.{key}" if path else key, "required field is missing")
        get = fields.get
        for key, field_value in value.items():
            field_check = get(key)
            if field_check is not None:
                field_check(field_value, f"{path}.{key}" if path else key)
        if post is not None:
            post(value, path)
    return check


def map_of(item: Check, keys: tuple[str, ...] = (), noun: str = "key") -> Check:
    """An object used as a map: every value is an ``item``; ``keys`` (if given) closes the
    set of keys."""
    allowed = frozenset(keys)
    listing = ", ".join(sorted(keys))

    def check(value: object, path: str) -> None:
        if type(value) is not dict:
            raise expected(path, "an object", value)
        for key, element in value.items():
            if allowed and key not in allowed:
                raise Invalid(key_path(path, key),
                              f"unknown {noun} {quote(key)} (one of: {listing})")
            item(element, key_path(path, key))
    return check


def string_map(nonempty_keys: bool = False) -> Check:
    """A string-to-string object (annotations, sysctl, unified); optionally no empty keys."""
    def check(value: object, path: str) -> None:
        if type(value) is not dict:
            raise expected(path, "an object", value)
        for key, element in value.items():
            if nonempty_keys and not key:
                raise Invalid(key_path(path, key), "keys must not be empty")
            if type(element) is not str:
                raise expected(key_path(path, key), "a string", element)
    return check
