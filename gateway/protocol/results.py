"""The one renderer of tool outcomes: a CallToolResult's bytes for either protocol era.

Results are built by hand in exactly the shape ``mcp_types.methods.serialize_server_result`` produces (a test
compares the two), because running pydantic over every result would cost more than the rest of the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from mcp_types import SERVER_INFO_META_KEY

from gateway.observability.redaction import redact_text
from gateway.protocol.outcomes import Complete, Deferred, InputRequired, Outcome, ToolFailed


class ResultRenderer:
    """Built once per application: the tail every 2026-07-28 result shares is serialised once."""

    def __init__(self, server_info: Mapping[str, Any]) -> None:
        self._server_meta = {SERVER_INFO_META_KEY: dict(server_info)}
        self._modern_tail = b',"resultType":"complete","_meta":' + orjson.dumps(self._server_meta) + b"}"

    def render(self, outcome: Outcome, modern: bool) -> bytes:
        """The result's bytes; a KeyRefused outcome is rendered by its fallback (the transport decides when)."""
        if isinstance(outcome, Complete):
            return self._call_result(None, outcome.structured, False, modern)
        if isinstance(outcome, ToolFailed):
            # An error text may quote an argument or an upstream message that echoes one; it goes to the model.
            return self._call_result(redact_text(outcome.text), None, True, modern, outcome.meta)
        if isinstance(outcome, Deferred):
            return self._call_result(outcome.text, None, False, modern, outcome.meta)
        if isinstance(outcome, InputRequired):
            if not modern:
                raise ValueError("input_required exists only in 2026-07-28")
            result: dict[str, Any] = {"resultType": "input_required", "inputRequests": dict(outcome.input_requests)}
            if outcome.request_state is not None:
                result["requestState"] = outcome.request_state
            result["_meta"] = self._server_meta
            return orjson.dumps(result)
        return self.render(outcome.fallback, modern)

    def _call_result(
        self, text: str | None, structured: bytes | None, is_error: bool, modern: bool, meta: Mapping[str, Any] | None = None,
    ) -> bytes:
        """A CallToolResult in the shape serialize_server_result gives for the call's version.

        The text content is `text`, or when that is None the structured content itself (spec: a tool with an
        outputSchema also returns its JSON as text). Joined from parts rather than dumped as one dict, so the
        structured content is serialised once, not a second time inside the result.
        """
        literal = orjson.dumps(text) if text is not None else json_string(structured)  # type: ignore[arg-type]
        parts = [b'{"content":[{"type":"text","text":', literal, b'}],"isError":', b"true" if is_error else b"false"]
        if structured is not None:
            parts += (b',"structuredContent":', structured)
        if meta:
            # A result's own _meta (e.g. what a view needs) beside the server's, in both eras.
            merged = {**meta, **self._server_meta} if modern else dict(meta)
            parts += (b',"resultType":"complete"' if modern else b"", b',"_meta":', orjson.dumps(merged), b"}")
        else:
            parts.append(self._modern_tail if modern else b"}")
        return b"".join(parts)


def json_string(compact_json: bytes) -> bytes:
    """`compact_json` as a JSON string literal: the bytes orjson.dumps(compact_json.decode()) gives, without
    decoding and escaping it all again (that was the largest cost of a cached search_docs call).

    Only for orjson's own output: it has no whitespace between tokens and no raw control character (inside
    strings they are already escape sequences), so a backslash and a quote are the only bytes that need escaping.
    """
    return b'"' + compact_json.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
