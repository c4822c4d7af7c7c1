"""Checking a tool's arguments against its inputSchema, with errors worded for a model.

Two schema libraries sit behind one answer: code fastjsonschema generates is fast and trusted only to say
"valid"; jsonschema's Draft 2020-12 validator words a rejection and has the last word.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from gateway.protocol.argument_errors import describe_all

if TYPE_CHECKING:
    from gateway.tools.base import Tool
    from gateway.tools.catalogue import Catalogue

class ArgumentValidator:
    """Checks tool arguments against each tool's inputSchema, with both schema libraries behind one answer.

    Code fastjsonschema generates from each schema is fast and is trusted only to say "valid"; a rejection
    is re-checked by jsonschema's Draft 2020-12 validator, several times slower per call, which words the
    error and has the last word, so the two can never disagree in a way that refuses good arguments
    (tests/test_argument_checks.py holds them to agree). Compiling is the slow part of building a gateway,
    so one validator may be built once and handed to every application that serves the same tools.
    """

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._schemas: dict[str, Mapping[str, Any]] = {}
        self._fast: dict[str, Callable[[Any], Any]] = {}
        self._reference: dict[str, Validator] = {}
        # Which tools take each argument name, so an argument sent to the wrong tool can name the right one.
        takes: dict[str, list[str]] = {}
        for tool in tools:
            for name in tool.input_schema.get("properties", {}):
                takes.setdefault(name, []).append(tool.name)
            self._schemas[tool.name] = tool.input_schema
            self._fast[tool.name] = compile_fast_check(tool.input_schema)
            self._reference[tool.name] = Draft202012Validator(tool.input_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        self._takes = {name: tuple(names) for name, names in takes.items()}

    def covers(self, catalogue: Catalogue) -> bool:
        """Whether this validator checks exactly the tools of `catalogue`, schema for schema."""
        return self._schemas == {tool.name: tool.input_schema for tool in catalogue.tools}

    def reference(self, name: str) -> Validator:
        """jsonschema's validator for tool `name`: the authority on what its inputSchema accepts."""
        return self._reference[name]

    def problem(self, name: str, arguments: dict[str, Any]) -> str | None:
        """None when `arguments` satisfy tool `name`'s inputSchema, else every problem, worded for a model."""
        try:
            self._fast[name](arguments)
        except fastjsonschema.JsonSchemaException:
            errors = list(self._reference[name].iter_errors(arguments))
            return describe_all(name, errors, self._takes) if errors else None
        return None


def compile_fast_check(schema: Mapping[str, Any]) -> Callable[[Any], Any]:
    """fastjsonschema's generated check for an inputSchema, raising JsonSchemaException when it fails.

    Our schemas use only keywords that mean the same in draft 7 (fastjsonschema's newest) and 2020-12; formats
    are delegated to jsonschema's own format checker so both accept the same strings, and defaults are never
    written into the caller's arguments (use_default=False).
    """
    checker = Draft202012Validator.FORMAT_CHECKER
    # Every format the schema names, including ones jsonschema cannot check here (it accepts those): left to
    # itself, fastjsonschema would apply its own regex for date-time or uri and refuse what jsonschema accepts.
    formats = {name: functools.partial(checker.conforms, format=name) for name in _formats(schema)}
    return fastjsonschema.compile(dict(schema), formats=formats, use_default=False)


def _formats(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["format"]} if isinstance(schema.get("format"), str) else set()
        return found.union(*(_formats(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_formats(v) for v in schema))
    return set()
