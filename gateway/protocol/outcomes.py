"""What running a tool can come to, as data: the pipeline returns one of these, `gateway.protocol.results`
turns it into the bytes of a CallToolResult for the call's protocol era, and the transport alone decides
which HTTP status carries it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Complete:
    """The tool did what was asked; `structured` is its result (conforming to its outputSchema) as compact JSON."""

    structured: bytes


@dataclass(frozen=True, slots=True)
class ToolFailed:
    """An `isError` result: the model reads `text` and can correct itself.

    `outcome` is the metric label (invalid_arguments, tool_error, upstream_error, internal_error,
    outside_surface). `data` is what the text says as data, where there is some (a write StatusPal applied only
    in part); `meta` is for the result's `_meta`."""

    outcome: str
    text: str
    data: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Deferred:
    """Nothing was written yet: a person reviews the write in the publish preview. A normal result (not isError:
    some hosts do not mount a view for an error result), whose `text` tells the model to stop, and whose `meta`
    carries the sealed draft and the preview for the view, never for `content` or `structuredContent`."""

    text: str
    meta: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class InputRequired:
    """2026-07-28 only: the call needs the client's answers first; the client retries with them and the state."""

    input_requests: Mapping[str, Any]
    request_state: str | None = None


@dataclass(frozen=True, slots=True)
class KeyRefused:
    """StatusPal refused the API key itself (401) while the tool ran. The transport answers HTTP 401 with the
    challenge so the client re-authorises; once an SSE answer has started, only `fallback` (an isError result
    saying so) can still reach the client."""

    status: int
    fallback: ToolFailed


Outcome = Complete | ToolFailed | Deferred | InputRequired | KeyRefused
