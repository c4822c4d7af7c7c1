"""`tools/call`: checking a tool's arguments, running it, and shaping what it returns into a CallToolResult.

Results are built by hand in exactly the shape ``mcp_types.methods.serialize_server_result`` produces (a test
compares the two), because running pydantic over every result would cost more than the rest of the call.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from mcp_types import SERVER_INFO_META_KEY

from gateway.observability.redaction import quotable, redact_text
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, describe
from gateway.tools.base import ProgressFn, Tool, ToolContext, ToolError, no_progress

if TYPE_CHECKING:
    from gateway.observability.metrics import Metrics
    from gateway.statuspal.client import StatusPalClient
    from gateway.tools.catalogue import Catalogue
    from search.lifecycle import DocsIndex

log = logging.getLogger(__name__)

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


class KeyRefused(Exception):
    """StatusPal refused the API key itself while a tool ran, and the answer can still carry an HTTP status.

    The transport turns this into a 401 with the challenge (so the client re-authorises) and forgets the
    cached key check; the tool runner only reports what happened.
    """

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Reply(Protocol):
    """The transport's side of one answer: progress notifications go out over SSE once `notify` is called."""

    @property
    def streaming(self) -> bool: ...

    async def notify(self, message: Mapping[str, Any]) -> None: ...


@dataclass(slots=True)
class Invocation:
    """One tools/call as the runner needs it."""

    api_key: str
    reply: Reply
    # Correlates the client's "request id …" with the server log line for internal errors.
    request_id: str
    # 2026-07-28 results carry resultType and the server's _meta.
    modern: bool
    progress: ProgressFn = no_progress
    # The status page a page-scoped connection is limited to (gateway.auth.surfaces), for the tools that check it.
    page: str | None = None


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


class ToolRunner:
    """Runs one known tool for a caller allowed to call it, and answers with the bytes of its result."""

    def __init__(
        self, arguments: ArgumentValidator, upstream: StatusPalClient, docs: DocsIndex, metrics: Metrics,
        server_info: Mapping[str, Any],
    ) -> None:
        self._arguments = arguments
        self._upstream = upstream
        self._docs = docs
        self._metrics = metrics
        self._modern_tail = b',"resultType":"complete","_meta":' + orjson.dumps({SERVER_INFO_META_KEY: server_info}) + b"}"

    async def run(self, tool: Tool, arguments: dict[str, Any], call: Invocation) -> bytes:
        """Arguments that fail the inputSchema are an `isError` result, because only results reach the model,
        which can then correct itself (tools spec 2025-11-25, "Error Handling"; SEP-1303)."""
        problem = self._arguments.problem(tool.name, arguments)
        if problem is not None:
            return self._failure(
                call, tool, "invalid_arguments",
                f"Invalid arguments for {tool.name}: {problem}. Correct them to match the tool's input schema and call it again.",
            )
        try:
            # Inside the try: for_key refuses a key no StatusPal key can look like (one sealed into a token)
            # exactly as StatusPal would refuse it, and that answer must take the same path.
            ctx = ToolContext(
                api=self._upstream.for_key(call.api_key) if tool.needs_upstream else None,
                docs=self._docs,
                progress=call.progress,
                page=call.page,
            )
            structured = orjson.dumps(dict(await tool.handler(ctx, arguments)))
        except ToolError as exc:
            return self._failure(call, tool, "tool_error", str(exc))
        except UpstreamAuthError as exc:
            if not call.reply.streaming:
                # StatusPal refused the key itself (a 401; a 403 on one resource is an ordinary tool error, since
                # the key still works elsewhere). Once an SSE answer has started its status is already sent, so
                # the failure can only be an isError result.
                self._metrics.tool_call(tool.name, "unauthorized")
                raise KeyRefused(exc.status) from None
            return self._failure(call, tool, "upstream_error", describe(exc))
        except UpstreamError as exc:
            return self._failure(call, tool, "upstream_error", describe(exc))
        except Exception:
            # Logged with the stack here; the client gets only the id to quote, never internals.
            log.exception("tool %s failed (request id %s)", tool.name, call.request_id)
            return self._failure(
                call, tool, "internal_error",
                f"The gateway hit an internal error running {tool.name} (request id {call.request_id}). "
                "Nothing more is known about whether it took effect; check with a read tool before retrying.",
            )
        self._metrics.tool_call(tool.name, "ok")
        return self._result(call, None, structured, False)

    def refuse(self, tool: Tool, text: str, call: Invocation) -> bytes:
        """An `isError` result for a call refused before it ran (it reached beyond the connection's page)."""
        return self._failure(call, tool, "outside_surface", text)

    def _failure(self, call: Invocation, tool: Tool, outcome: str, text: str) -> bytes:
        self._metrics.tool_call(tool.name, outcome)
        # An error text may quote an argument or an upstream message that echoes one; it goes to the model.
        return self._result(call, redact_text(text), None, True)

    def _result(self, call: Invocation, text: str | None, structured: bytes | None, is_error: bool) -> bytes:
        """A CallToolResult in the shape serialize_server_result gives for the call's version.

        The text content is `text`, or when that is None the structured content itself (spec: a tool with an
        outputSchema also returns its JSON as text). Joined from parts rather than dumped as one dict, so the
        structured content is serialised once, not a second time inside the result.
        """
        literal = orjson.dumps(text) if text is not None else json_string(structured)  # type: ignore[arg-type]
        parts = [b'{"content":[{"type":"text","text":', literal, b'}],"isError":', b"true" if is_error else b"false"]
        if structured is not None:
            parts += (b',"structuredContent":', structured)
        parts.append(self._modern_tail if call.modern else b"}")
        return b"".join(parts)


def progress_reporter(params: Mapping[str, Any], reply: Reply) -> ProgressFn:
    """ctx.progress for a tool: a notifications/progress message per step, when the client asked for them."""
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    if isinstance(token, bool) or not isinstance(token, (str, int)):
        return no_progress

    async def report(progress: float, total: float | None = None, message: str | None = None) -> None:
        report_params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            report_params["total"] = total
        if message is not None:
            report_params["message"] = message
        await reply.notify({"jsonrpc": "2.0", "method": "notifications/progress", "params": report_params})

    return report


def json_string(compact_json: bytes) -> bytes:
    """`compact_json` as a JSON string literal: the bytes orjson.dumps(compact_json.decode()) gives, without
    decoding and escaping it all again (that was the largest cost of a cached search_docs call).

    Only for orjson's own output: it has no whitespace between tokens and no raw control character (inside
    strings they are already escape sequences), so a backslash and a quote are the only bytes that need escaping.
    """
    return b'"' + compact_json.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


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
