"""cove.fastjson must agree with json on valid documents and reject what json rejects."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from cove import fastjson


def _random_value(rng: random.Random, depth: int = 0) -> object:
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randint(-(2**70), 2**70)
    if kind == "float":
        return rng.uniform(-1e10, 1e10)
    if kind == "str":
        return "".join(rng.choice('ab"\\\n\t é€😀\x01') for _ in range(rng.randint(0, 8)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {str(_random_value(rng, 4)): _random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def test_round_trips_agree_with_json() -> None:
    rng = random.Random(1234)
    for _ in range(500):
        value = _random_value(rng)
        assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"))
        text = json.dumps(value, indent=rng.choice([None, 2]))
        assert fastjson.loads(text) == json.loads(text)
        assert fastjson.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("bad", ['{"a": }', "[1, 2", "", "   ", "{} x", '{"a" 1}', "[01]",
                                 '"\x01"', "\ufeff{}", "tru"])
def test_invalid_documents_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError) as info:
        fastjson.loads(bad)
    assert hasattr(info.value, "lineno") or isinstance(info.value, UnicodeDecodeError)


def test_constants_follow_the_hook() -> None:
    assert fastjson.loads("[NaN]")[0] != fastjson.loads("[NaN]")[0]

    def reject(name: str) -> object:
        raise KeyError(name)

    with pytest.raises(KeyError):
        fastjson.loads('{"a": Infinity}', parse_constant=reject)


def test_unserializable_is_type_error() -> None:
    with pytest.raises(TypeError):
        fastjson.dumps({"a": object()})


def test_import_does_not_pull_in_json_or_re() -> None:
    code = ("import sys; import cove.fastjson as f; f.loads('{\"a\": [1, 2.5, null]}'); "
            "f.dumps({'a': 1}); print('json' in sys.modules, 're' in sys.modules)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": ":".join(p for p in sys.path if p)})
    assert out.stdout.split() == ["False", "False"]


def test_errors_without_json_loaded() -> None:
    code = ("import cove.fastjson as f\n"
            "try:\n    f.loads('{\"a\": [1,, 2]}')\n"
            "except ValueError as e:\n    print(type(e).__name__, e.lineno, e.colno)\n")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": ":".join(p for p in sys.path if p)})
    assert out.stdout.split() == ["JSONDecodeError", "1", "10"]
