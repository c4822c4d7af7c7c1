"""The fast argument check (code fastjsonschema generates from each inputSchema) accepts exactly what the
catalogue's jsonschema Draft 2020-12 validator accepts, for every tool.

The gateway trusts the generated check's "valid" without asking jsonschema, so a schema keyword it read
differently would let bad arguments through to StatusPal. Every tool gets a few thousand seeded argument sets
built from its own properties (types, bounds, enums, patterns, formats, nulls, nesting, extras, omissions).
"""

from __future__ import annotations

import random
from typing import Any

import fastjsonschema
import pytest

from gateway.protocol.arguments import ArgumentValidator, compile_fast_check
from gateway.tools.catalogue import build_catalogue

CATALOGUE = build_catalogue()
ARGUMENTS = ArgumentValidator(CATALOGUE.tools)

SCALARS: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 2.5, 20, 21, 100, 101, 10**20, "", "x", "bench", "api-1", "API", "a b",
    "a" * 300, "2026-11-29T02:00:00Z", "2026-11-29", "not a date", "https://example.com", "example.com",
    "minor", "major", "ñ", "wbk_1", "svc_2", [], {},
]

TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def candidates(schema: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
    """One value for a property: often one its schema names (enum, default), else a generic or nested one."""
    roll = rng.random()
    if "enum" in schema and roll < 0.4:
        return rng.choice(schema["enum"])
    if "anyOf" in schema and roll < 0.6:
        return candidates(rng.choice(schema["anyOf"]), rng, depth)
    kind = schema.get("type")
    if kind == "array" and depth < 3 and roll < 0.7:
        items = schema.get("items", {})
        return [candidates(items, rng, depth + 1) for _ in range(rng.choice((0, 1, 2, 3)))]
    if kind == "object" and depth < 3 and roll < 0.7:
        return arguments(schema, rng, depth + 1)
    if "default" in schema and roll < 0.75:
        return schema["default"]
    if kind in TYPES and roll < 0.9:  # mostly the right type, so whole argument sets are often valid
        return rng.choice([v for v in SCALARS if TYPES[kind](v)])
    return rng.choice(SCALARS)


def arguments(schema: dict[str, Any], rng: random.Random, depth: int = 0) -> dict[str, Any]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    out = {}
    for name, sub in properties.items():
        if (name in required and rng.random() < 0.95) or rng.random() < 0.5:
            out[name] = candidates(sub, rng, depth)
    if rng.random() < 0.05:
        out["unexpected"] = 1
    return out


@pytest.mark.parametrize("tool", CATALOGUE.tools, ids=lambda t: t.name)
def test_fast_check_agrees_with_jsonschema(tool):
    fast = compile_fast_check(tool.input_schema)
    reference = ARGUMENTS.reference(tool.name)
    rng = random.Random(tool.name)
    accepted = 0
    for _ in range(3000):
        args = arguments(tool.input_schema, rng)
        try:
            fast(args)
            fast_ok = True
        except fastjsonschema.JsonSchemaException:
            fast_ok = False
        assert fast_ok == reference.is_valid(args), (tool.name, args)
        accepted += fast_ok
    # The table must exercise both answers, or agreement proves nothing.
    assert 0 < accepted < 3000, (tool.name, accepted)
