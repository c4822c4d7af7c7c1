"""The JSON-RPC 2.0 codec: reading one client message, and the bytes of every answer the gateway writes.

Every JSON-RPC answer, success or error, is written by `envelope` or `error_body` here, so what a client reads
has one shape whichever layer found the problem. Which HTTP status carries an answer is the transport's choice,
never this module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from mcp_types.jsonrpc import INVALID_REQUEST, PARSE_ERROR

from gateway.observability.redaction import redact_text, redact_value

# The deepest nesting of arrays and objects a message may have (see _nests_deeper_than).
MAX_NESTING = 64


class RpcError(Exception):
    """A JSON-RPC error answer: its code, its message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class InvalidMessage(RpcError):
    """The body is not one JSON-RPC 2.0 message. `request_id` is set when the envelope's id could be read
    (it is valid even if the rest is not), so the client can still match the answer to its request."""

    def __init__(self, code: int, message: str, request_id: int | str | None = None) -> None:
        super().__init__(code, message)
        self.request_id = request_id


@dataclass(slots=True)
class Message:
    """One JSON-RPC message from the client. `id` is None for notifications and for client responses."""

    method: str | None
    id: int | str | None
    params: dict[str, Any]
    is_response: bool = False

    @property
    def is_request(self) -> bool:
        return self.id is not None and not self.is_response


def parse_message(body: bytes) -> Message:
    """Decode and check the JSON-RPC 2.0 envelope; every failure is an `InvalidMessage` with its own message."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidMessage(PARSE_ERROR, "Parse error: the body is not valid UTF-8 JSON") from None
    if isinstance(data, list):
        raise InvalidMessage(INVALID_REQUEST, "Batch requests are not supported: send one JSON-RPC message per POST")
    if not isinstance(data, dict):
        raise InvalidMessage(INVALID_REQUEST, "Invalid request: the body must be a JSON-RPC 2.0 object")
    request_id = data.get("id")
    if "id" in data and (isinstance(request_id, bool) or not isinstance(request_id, (int, str))):
        raise InvalidMessage(INVALID_REQUEST, 'Invalid request: "id" must be a string or an integer')
    if data.get("jsonrpc") != "2.0":
        raise InvalidMessage(INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"', request_id)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise InvalidMessage(INVALID_REQUEST, 'Invalid request: "params" must be an object', request_id)
    # Every level of nesting opens with a "[" or "{" byte, so a body with no more of them than the limit cannot be
    # too deep: two byte counts in C instead of a walk over every value of every message.
    if body.count(b"[") + body.count(b"{") > MAX_NESTING and _nests_deeper_than(data, MAX_NESTING):
        raise InvalidMessage(INVALID_REQUEST, f"Invalid request: the message nests arrays and objects more than {MAX_NESTING} levels deep", request_id)
    method = data.get("method")
    if method is None and request_id is not None and ("result" in data or "error" in data):
        return Message(method=None, id=request_id, params={}, is_response=True)
    if not isinstance(method, str) or not method:
        raise InvalidMessage(INVALID_REQUEST, 'Invalid request: "method" must be a non-empty string', request_id)
    return Message(method=method, id=request_id, params=params)


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` has arrays or objects nested more than `limit` levels deep, found without recursion.

    orjson accepts up to 1,024 levels, but everything after the parse that walks a value by recursion (the
    schema validators, repr() wording their messages) hits Python's recursion limit long before that; bounding
    the depth once, here, keeps every later step safe. No MCP message nests anywhere near this deep.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def envelope(request_id: int | str | None, result: bytes) -> bytes:
    """A JSON-RPC success answer around the already-serialised `result`."""
    # One join, one allocation: chained `+` made a full-size intermediate copy per step, and for a 75 KB
    # tools/list answer those short-lived large blocks cost page faults on every request.
    return b"".join((b'{"jsonrpc":"2.0","id":', orjson.dumps(request_id), b',"result":', result, b"}"))


def error_body(error: RpcError, request_id: int | str | None = None) -> bytes:
    """A JSON-RPC error answer for `error`."""
    # Messages quote caller input through quotable(); scrubbing the whole error again here also covers
    # text worded by libraries (the SDK's header checks, pydantic) that quote whatever they were given.
    body: dict[str, Any] = {"code": error.code, "message": redact_text(error.message)}
    if error.data is not None:
        body["data"] = redact_value(error.data)
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": body})
