"""What a tool is: its wire definition, the scope it needs, and the coroutine that does the work.

Handlers take a `ToolContext` and the validated arguments and return the structured result (a dict that
conforms to `output_schema`). They raise `ToolError` for anything the model should read and correct;
upstream failures arrive as `gateway.statuspal.errors.UpstreamError` and are turned into `isError`
results by the dispatcher, so no handler formats errors itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

from gateway.scopes import READ

if TYPE_CHECKING:
    from gateway.statuspal.client import StatusPalAPI

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


async def _no_progress(progress: float, total: float | None = None, message: str | None = None) -> None:
    return None


class ToolError(Exception):
    """A failure the model can act on; its message becomes the text of an `isError` result."""


@dataclass(frozen=True)
class Annotations:
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = False

    def wire(self, title: str) -> dict[str, Any]:
        return {
            "title": title,
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }


READ_ONLY = Annotations(read_only=True, destructive=False, idempotent=True)


@dataclass
class ToolContext:
    """Everything a handler may use for one call: the caller's upstream API, docs search, progress."""

    api: "StatusPalAPI | None" = None
    docs: Any = None
    progress: ProgressFn = _no_progress


Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    annotations: Annotations
    handler: Handler
    # The OAuth scope a sealed token needs to see and call this tool.
    scope: str = READ
    # False for tools that never call StatusPal (search_docs).
    needs_upstream: bool = True
    meta: Mapping[str, Any] = field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        """The tool as `tools/list` shows it."""
        wire: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": dict(self.input_schema),
            "outputSchema": dict(self.output_schema),
            "annotations": self.annotations.wire(self.title),
        }
        if self.meta:
            wire["_meta"] = dict(self.meta)
        return wire
