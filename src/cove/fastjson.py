"""JSON through CPython's ``_json`` accelerator alone, without importing :mod:`json`.

``import json`` pulls in ``re`` and ``enum`` (for regexes the C accelerator never
uses), several milliseconds on every ``cove-runtime create``. The C scanner and
encoder of ``_json`` need only a few attributes; this module supplies them and
otherwise behaves like ``json.loads``/``json.dumps`` with default arguments
(checked against :mod:`json` by the unit tests). Errors raise ``ValueError``
(``json.JSONDecodeError`` is a subclass) with position information. Where the
accelerator is missing (other Python implementations), :mod:`json` is used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any
else:
    Any = object

try:
    import _json as _accel
except ImportError:  # pragma: no cover - CPython always has it
    _accel = None  # type: ignore[assignment]
# typeshed types make_scanner's argument as a JSONDecoder; any object with the
# attributes below is what the C code reads.
_json: Any = _accel

_WS = " \t\n\r"


def _constant(name: str) -> float:
    return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


class _Context:
    """The attributes ``_json.make_scanner`` reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    def __init__(self, parse_constant: Callable[[str], Any]) -> None:
        self.memo: dict[str, str] = {}
        self.parse_constant = parse_constant


def loads(data: str | bytes, parse_constant: Callable[[str], Any] = _constant) -> Any:
    """Like ``json.loads(data, parse_constant=...)`` for UTF-8 text."""
    if _json is None:  # pragma: no cover
        import json

        return json.loads(data, parse_constant=parse_constant)
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if text.startswith("\ufeff"):
        raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    scan = _json.make_scanner(_Context(parse_constant))
    idx = _skip(text, 0)
    try:
        value, end = scan(text, idx)
    except StopIteration as exc:
        raise _error("Expecting value", text, exc.value) from None
    except SystemError:
        # The accelerator builds its errors from json.decoder, which it expects to be
        # loaded already; on this (error) path, let json itself parse and report.
        import json

        return json.loads(text, parse_constant=parse_constant)
    end = _skip(text, end)
    if end != len(text):
        raise _error("Extra data", text, end)
    return value


def _skip(text: str, idx: int) -> int:
    while idx < len(text) and text[idx] in _WS:
        idx += 1
    return idx


def _error(msg: str, text: str, pos: int) -> ValueError:
    """json.JSONDecodeError when json is importable (it is on the error path only)."""
    import json

    return json.JSONDecodeError(msg, text, pos)


def dumps(value: Any, *, compact: bool = True) -> str:
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value, separators=(",", ":") if compact else None)
    encode = _json.make_encoder(
        {}, _unserializable, _json.encode_basestring_ascii, None,
        ":" if compact else ": ", "," if compact else ", ", False, False, True)
    return "".join(encode(value, 0))


def _unserializable(obj: object) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
