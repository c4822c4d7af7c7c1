"""What a tool is: its wire definition, the scope it needs, and the coroutine that does the work.

Handlers take a `ToolContext` and the validated arguments and return the structured result (a dict that
conforms to `output_schema`). They raise `ToolError` for anything the model should read and correct;
upstream failures arrive as `gateway.statuspal.errors.UpstreamError` and are turned into `isError`
results by the tool runner, so no handler formats errors itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.auth.scopes import READ

if TYPE_CHECKING:
    from gateway.statuspal.client import StatusPalAPI
    from search.lifecycle import DocsIndex

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


async def no_progress(progress: float, total: float | None = None, message: str | None = None) -> None:
    """The progress of a call whose client asked for none (and of tools called outside a request)."""
    return None


class ToolError(Exception):
    """A failure the model can act on; its message becomes the text of an `isError` result.

    `data` keeps what the words say as data where there is some: for a write StatusPal applied only in part,
    what was asked, what it applied and what it did not. The result renderer decides what reaches the client;
    later steps (an audit record) read it here instead of parsing the text.
    """

    def __init__(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data


class InputNeeded(Exception):
    """The tool needs the client's answers before it can act (2026-07-28's InputRequiredResult). The client asks
    its user, then retries the same call with the answers (`ToolContext.input_responses`) and `request_state`
    echoed back (`ToolContext.request_state`). In the handshake era there is no such round trip."""

    def __init__(self, input_requests: Mapping[str, Any], request_state: str | None = None) -> None:
        super().__init__("input needed")
        self.input_requests = input_requests
        self.request_state = request_state


@dataclass(frozen=True)
class Annotations:
    """The MCP tool hints. `open_world` has one rule here: true exactly when the call's effect leaves
    StatusPal, that is when it can message a page's subscribers or fire the organization's outgoing webhooks
    (a notice published, posted to, edited, ended or deleted, or a service status it changes), or changes where
    and how StatusPal delivers to an outside receiver (a webhook created, re-pointed or given a new secret). A
    tool that only changes records inside StatusPal is closed-world, however public the page it changes."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = False

    def wire(self) -> dict[str, Any]:
        """The hints as `tools/list` shows them. No `title` here: the tool's own title says it, and clients read
        that one first. A read-only tool shows no destructive or idempotent hint: the MCP schema gives those
        meaning only when readOnlyHint is false, so on a read tool they are bytes no client may act on. Every
        other hint is explicit, since clients differ on the defaults."""
        if self.read_only:
            return {"readOnlyHint": True, "openWorldHint": self.open_world}
        return {
            "readOnlyHint": False,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }


READ_ONLY = Annotations(read_only=True, destructive=False, idempotent=True)


@dataclass
class ToolContext:
    """Everything a handler may use for one call: the caller's upstream API, docs search, progress."""

    api: StatusPalAPI | None = None
    docs: DocsIndex | None = None
    progress: ProgressFn = no_progress
    # The status page a page-scoped connection is limited to; page-scoped tools supply it as `subdomain`.
    page: str | None = None
    # A 2026-07-28 retry after InputNeeded: the client's answers, keyed as asked, and the state handed out.
    input_responses: Mapping[str, Any] = field(default_factory=dict)
    request_state: str | None = None
    # The caller's own kept audit events, newest first, when the gateway keeps them (`[audit] history`).
    audit_history: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None

    @property
    def upstream(self) -> StatusPalAPI:
        """The caller's StatusPal API. The runner hands one to every tool with `needs_upstream`, and only to those,
        so a handler that reaches for it without declaring the need fails loudly instead of calling with no key."""
        if self.api is None:
            raise RuntimeError("this tool was not given a StatusPal API: declare needs_upstream")
        return self.api


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
    # The toolsets a surface's URL names to include this tool (`gateway.auth.surfaces.TOOLSETS`); a tool in
    # none is shown only where every toolset is.
    toolsets: frozenset[str]
    # The OAuth scope a sealed token needs to see and call this tool.
    scope: str = READ
    # False for tools that never call StatusPal (search_docs).
    needs_upstream: bool = True

    def definition(self) -> dict[str, Any]:
        """The tool as `tools/list` shows it."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": dict(self.input_schema),
            "outputSchema": dict(self.output_schema),
            "annotations": self.annotations.wire(),
        }
