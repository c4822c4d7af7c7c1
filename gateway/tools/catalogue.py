"""The tool catalogue: every tool the gateway offers, checked once at start-up.

Tools come from one module per StatusPal resource, each exporting ``TOOLS``. The order here is the order
`tools/list` shows (deterministic, as the 2026-07-28 revision asks), so it never varies between instances.
Every schema is checked when the catalogue is built, so a malformed schema is a start-up error; the argument
checks compiled from them belong to `gateway.protocol.arguments.ArgumentValidator`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from gateway.auth.scopes import TOOL_SCOPES
from gateway.auth.surfaces import ALL_TOOLSETS
from gateway.tools import containers, docs, notices, services, setup, status_pages, webhooks
from gateway.tools.base import Tool

# The order of tools/list: pages, then what lives on a page, then webhooks, the one-call setup, docs search.
TOOL_MODULES = (status_pages, services, containers, notices, webhooks, setup, docs)

# MCP tool names: 1-128 characters of [A-Za-z0-9_.-].
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclass(frozen=True)
class Catalogue:
    tools: tuple[Tool, ...]
    _by_name: Mapping[str, Tool] = field(repr=False)

    @classmethod
    def of(cls, tools: Iterable[Tool]) -> Catalogue:
        """Check every tool; raises ValueError naming the first bad tool."""
        tools = tuple(tools)
        by_name: dict[str, Tool] = {}
        for tool in tools:
            if not _NAME.match(tool.name):
                raise ValueError(f"tool name {tool.name!r} is not 1-128 characters of [A-Za-z0-9_.-]")
            if tool.name in by_name:
                raise ValueError(f"tool {tool.name!r} is defined twice")
            if not tool.toolsets <= ALL_TOOLSETS:
                raise ValueError(f"tool {tool.name!r} names unknown toolsets {sorted(tool.toolsets - ALL_TOOLSETS)}")
            if tool.scope not in TOOL_SCOPES:
                raise ValueError(f"tool {tool.name!r} needs unknown scope {tool.scope!r}")
            for label, schema in (("inputSchema", tool.input_schema), ("outputSchema", tool.output_schema)):
                if schema.get("type") != "object":
                    raise ValueError(f"tool {tool.name!r}: {label} must be a JSON Schema with type 'object'")
                problem = _schema_problem(schema)
                if problem is not None:
                    raise ValueError(f"tool {tool.name!r}: {label} is not valid JSON Schema 2020-12: {problem}")
            by_name[tool.name] = tool
        return cls(tools=tools, _by_name=by_name)

    def get(self, name: str) -> Tool | None:
        return self._by_name.get(name)


def build_catalogue(extra_tools: Iterable[Tool] = ()) -> Catalogue:
    """Every tool of every tool module, in `TOOL_MODULES` order, then `extra_tools` (the hook through which an
    embedding application, or a test, adds its own tools, checked like every other). The pipeline bounds each
    result to fit a client's window (`fit_record`)."""
    return Catalogue.of((*(tool for module in TOOL_MODULES for tool in module.TOOLS), *extra_tools))


# Canonical JSON of every schema that passed the metaschema check in this process.
_CHECKED: set[bytes] = set()


def _schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Check a schema against the 2020-12 metaschema, once per process per distinct schema.

    The metaschema check is the slow part of start-up (tens of milliseconds per schema), and every app
    built in one process (the tests build many) carries the same schemas.
    """
    canonical = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    if canonical in _CHECKED:
        return None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    _CHECKED.add(canonical)
    return None
