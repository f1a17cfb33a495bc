"""jsonschema validators for the shared OCI schemas (draft-04, relative $refs)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.helpers import SPECS


@cache
def _registry(directory: str) -> Registry[Any]:
    resources = []
    for path in (SPECS / directory).glob("*.json"):
        doc = json.loads(path.read_text())
        resources.append((path.name, Resource.from_contents(doc, default_specification=DRAFT4)))
    return Registry().with_resources(resources)


def validator(name: str, directory: str = "oci-runtime") -> Draft4Validator:
    schema = json.loads((SPECS / directory / name).read_text())
    schema.setdefault("$id", name)
    return Draft4Validator(schema, registry=_registry(directory))
