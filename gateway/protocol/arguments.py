"""Checking a tool's arguments against its inputSchema, with errors worded for a model.

Two schema libraries sit behind one answer: code fastjsonschema generates is fast and trusted only to say
"valid"; jsonschema's Draft 2020-12 validator words a rejection and has the last word.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import fastjsonschema
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from gateway.observability.redaction import quotable

if TYPE_CHECKING:
    from gateway.tools.base import Tool
    from gateway.tools.catalogue import Catalogue

# A tool named in an argument's description as the one that lists its valid values.
_LISTER = re.compile(r"\b(list_[a-z_]+)\b")


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    """jsonschema's `pattern`, worded for a model: a lookup argument whose description names the list_ tool that
    shows valid values says so, because the usual cause is a display name ("Web Console") where a slug or id
    belongs, and the fix is to look it up rather than to guess again."""
    for error in _draft_pattern(validator, pattern, instance, schema):
        lister = _LISTER.search(str(schema.get("description", "")))
        if lister is not None:
            error.message = (
                f"{instance!r} is not a valid identifier (it must match {pattern}): pass the identifier, not a display "
                f"name; {lister.group(1)} shows them"
            )
        yield error


_draft_pattern = Draft202012Validator.VALIDATORS["pattern"]
# Draft 2020-12 with errors worded for a model; it accepts exactly what Draft202012Validator accepts.
_Reference = validators.extend(Draft202012Validator, {"pattern": _pattern})


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
        for tool in tools:
            self._schemas[tool.name] = tool.input_schema
            self._fast[tool.name] = compile_fast_check(tool.input_schema)
            self._reference[tool.name] = _Reference(tool.input_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def covers(self, catalogue: Catalogue) -> bool:
        """Whether this validator checks exactly the tools of `catalogue`, schema for schema."""
        return self._schemas == {tool.name: tool.input_schema for tool in catalogue.tools}

    def reference(self, name: str) -> Validator:
        """jsonschema's validator for tool `name`: the authority on what its inputSchema accepts."""
        return self._reference[name]

    def problem(self, name: str, arguments: dict[str, Any]) -> str | None:
        """None when `arguments` satisfy tool `name`'s inputSchema, else the most relevant error, worded."""
        try:
            self._fast[name](arguments)
        except fastjsonschema.JsonSchemaException:
            error = best_match(self._reference[name].iter_errors(arguments))
            return _describe_schema_error(error) if error is not None else None
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


def _describe_schema_error(error: ValidationError) -> str:
    """'<field path>: <what is wrong>', short enough for a model to act on (huge values are cut)."""
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = quotable(error.message, 300)
    return f"{quotable(path, 200)}: {message}" if path else message
