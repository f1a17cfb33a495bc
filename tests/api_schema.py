"""Validate Engine API responses against the Docker Engine API swagger (v1.47).

The spec is YAML; the venv has no YAML parser, so Debian's python3-yaml turns it
into JSON once per test process.  Swagger 2.0 schemas are JSON
Schema draft 4 plus ``x-nullable``, which is folded into the types here.
"""

from __future__ import annotations

import copy
import json
import subprocess
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft4Validator

from tests.helpers import SPECS

SPEC = SPECS / "docker-engine-api" / "v1.47.yaml"
SYSTEM_PYTHON = "/usr/bin/python3"


@cache
def spec() -> dict[str, Any]:
    """The spec as JSON (parsed once per test process; nothing is written to disk)."""
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c",
         "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
         str(SPEC)], capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot read the API spec (python3-yaml missing?): "
                    f"{proc.stderr.decode()[-300:]}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.get("x-nullable") is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@cache
def _definitions() -> dict[str, Any]:
    return dict(_nullable(copy.deepcopy(spec()["definitions"])))


def _validator(schema: dict[str, Any]) -> Draft4Validator:
    return Draft4Validator({**_nullable(schema), "definitions": _definitions()})


def validate_definition(name: str, instance: Any) -> None:
    """Raise jsonschema.ValidationError unless ``instance`` is a valid ``name``."""
    _validator({"$ref": f"#/definitions/{name}"}).validate(instance)


def validate_response(path: str, method: str, status: int, instance: Any) -> None:
    """Validate against the schema the spec gives for ``method path`` → ``status``."""
    operation = spec()["paths"][path][method.lower()]
    schema = operation["responses"][str(status)].get("schema")
    assert schema is not None, f"{method} {path} {status} has no schema in the spec"
    _validator(schema).validate(instance)


__all__ = ["spec", "validate_definition", "validate_response"]


# Nulls the swagger allows (x-nullable): kept, to be validated as sent.
_NULLABLE = frozenset({"DriverOpts", "SecondaryIPAddresses", "SecondaryIPv6Addresses",
                       "Healthcheck", "Health", "ExecIDs", "PidsLimit"})


def docker_nulls_dropped(body: Any) -> Any:
    """``body`` without the nulls Docker itself sends where its swagger does not mark the
    field nullable (unset lists of Config and HostConfig, IPAM.Options, an endpoint's
    Aliases): Cove answers as Docker does (docker-py checks some of these), so they are
    let through; every other field is validated as sent."""
    if isinstance(body, list):
        return [docker_nulls_dropped(item) for item in body]
    if not isinstance(body, dict):
        return body
    return {k: docker_nulls_dropped(v) for k, v in body.items()
            if v is not None or k in _NULLABLE}
