"""`tools/call` as one pipeline: an `Invocation` (who calls, from which surface, with what request meta) in, a
typed `Outcome` out.

The dispatcher has already found the tool and checked that the surface and the grant allow it; here the
arguments are checked, the tool runs with the caller's own StatusPal API, and whatever happens becomes one
outcome. Nothing here knows about HTTP: a key StatusPal refuses is the `KeyRefused` outcome, and the transport
decides whether that can still be a 401.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from gateway.auth.scopes import READ
from gateway.protocol.invocation import Invocation
from gateway.protocol.outcomes import Complete, Deferred, InputRequired, KeyRefused, Outcome, ToolFailed
from gateway.protocol.write_audit import write_event
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, describe
from gateway.tools.base import InputNeeded, ProgressFn, Tool, ToolContext, ToolError, no_progress
from gateway.tools.fit import RESULT_LIMIT, fit_record

if TYPE_CHECKING:
    from gateway.observability.audit import AuditTrail
    from gateway.observability.metrics import Metrics
    from gateway.protocol.arguments import ArgumentValidator
    from gateway.protocol.confirm.flow import Confirmer
    from gateway.statuspal.client import StatusPalClient
    from search.lifecycle import DocsIndex

log = logging.getLogger(__name__)

Notify = Callable[[Mapping[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class _Attempt:
    arguments: dict[str, Any]
    # How a person confirmed the write, for its audit event: "app", "form" or "none" (left to the client).
    confirmation: str


class ToolPipeline:
    """Runs one known tool for a caller allowed to call it, and says what came of it."""

    def __init__(
        self, arguments: ArgumentValidator, upstream: StatusPalClient, docs: DocsIndex, metrics: Metrics, confirmer: Confirmer,
        audit: AuditTrail,
    ) -> None:
        self._arguments = arguments
        self._upstream = upstream
        self._docs = docs
        self._metrics = metrics
        self.confirmer = confirmer
        self._audit = audit

    async def run(self, tool: Tool, arguments: dict[str, Any], call: Invocation) -> Outcome:
        """Arguments that fail the inputSchema are an `isError` result, because only results reach the model,
        which can then correct itself (tools spec 2025-11-25, "Error Handling"; SEP-1303)."""
        problem = self._arguments.problem(tool.name, arguments)
        if problem is not None:
            return await self._audited(tool, arguments, call, self._failed(
                tool, "invalid_arguments",
                f"Invalid arguments for {tool.name}: {problem}. Correct every one and call {tool.name} again.",
            ))
        return await self._execute(tool, arguments, call)

    async def publish(self, tool: Tool, draft: Mapping[str, Any], corrections: Mapping[str, Any], call: Invocation) -> Outcome:
        """The publish preview's call: write the draft's arguments with the person's corrections, once the draft
        is shown to be this caller's, unused and unexpired, and the target unchanged (`Confirmer.publish`)."""
        return await self._execute(tool, {}, call, draft=(draft, corrections))

    async def _execute(
        self, tool: Tool, arguments: dict[str, Any], call: Invocation, *, draft: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
    ) -> Outcome:
        attempt = _Attempt(arguments, "app" if draft is not None else "none")
        outcome = await self._attempt(tool, attempt, call, draft)
        return await self._audited(tool, attempt.arguments, call, outcome, attempt.confirmation)

    async def _audited(self, tool: Tool, arguments: Mapping[str, Any], call: Invocation, outcome: Outcome,
                       confirmation: str = "none") -> Outcome:
        """Every write a tool attempts leaves one audit event; a write still waiting for a person's yes has not been
        attempted yet, and a read leaves none."""
        if tool.scope != READ and not isinstance(outcome, Deferred | InputRequired):
            await self._audit.record(write_event(tool, arguments, outcome, call, confirmation))
        return outcome

    async def _attempt(
        self, tool: Tool, attempt: _Attempt, call: Invocation, draft: tuple[Mapping[str, Any], Mapping[str, Any]] | None,
    ) -> Outcome:
        """The outcome; `attempt` learns what the audit event needs on the way (the arguments as written, after a
        person's corrections, and how they were confirmed)."""
        arguments = attempt.arguments
        credentials = call.caller.credentials
        try:
            # Inside the try: for_key refuses a key no StatusPal key can look like (one sealed into a token)
            # exactly as StatusPal would refuse it, and that answer must take the same path.
            ctx = ToolContext(
                api=self._upstream.for_key(credentials.api_key, credentials.key_id) if tool.needs_upstream else None,
                docs=self._docs,
                progress=call.progress,
                page=call.caller.surface.page,
                input_responses=call.meta.input_responses,
                request_state=call.meta.request_state,
                audit_history=(lambda: self._audit.history(credentials.key_id)) if self._audit.keeps_history else None,
            )
            if draft is not None:
                arguments, held = await self.confirmer.publish(tool, draft[0], draft[1], call, ctx)
                attempt.arguments = arguments
                if held is None:
                    # The person's corrections are arguments like any other: checked against the schema.
                    problem = self._arguments.problem(tool.name, arguments)
                    if problem is not None:
                        held = ToolFailed("invalid_arguments", f"The corrected {tool.name} is not valid: {problem}. Nothing "
                                                               "was written; correct it in the preview and publish again.")
            else:
                held, attempt.confirmation = await self.confirmer.gate(tool, arguments, call, ctx)
            if held is not None:
                self._metrics.tool_call(tool.name, held.outcome if isinstance(held, ToolFailed) else "confirming")
                return held
            result = await tool.handler(ctx, arguments)
            structured = orjson.dumps(dict(result))
            if len(structured) > RESULT_LIMIT:  # measured by the one serialisation every result gets anyway
                structured = orjson.dumps(fit_record(result))
        except ToolError as exc:
            return self._failed(tool, "tool_error", str(exc), exc.data)
        except InputNeeded as exc:
            if call.modern:
                self._metrics.tool_call(tool.name, "input_required")
                return InputRequired(exc.input_requests, exc.request_state)
            # The handshake era has no round trip for it: an answer would have to reach the instance holding
            # the client's open stream, and any instance may answer any request here.
            return self._failed(
                tool, "tool_error",
                f"{tool.name} needs an answer from the user that this connection cannot ask for (it needs MCP protocol "
                "2026-07-28 with elicitation); nothing was changed.",
            )
        except UpstreamAuthError as exc:
            # StatusPal refused the key itself (a 401; a 403 on one resource is an ordinary tool error, since the
            # key still works elsewhere). Whether that is still an HTTP 401 is the transport's to decide.
            self._metrics.tool_call(tool.name, "unauthorized")
            return KeyRefused(exc.status, ToolFailed("upstream_error", describe(exc)))
        except UpstreamError as exc:
            # A lost answer to a write leaves its outcome unknown: said so in the data, for the audit trail.
            return self._failed(tool, "upstream_error", describe(exc), {"unknown": True} if exc.outcome_unknown else None)
        except Exception:
            # Logged with the stack here; the client gets only the id to quote, never internals.
            log.exception("tool %s failed (request id %s)", tool.name, call.request_id)
            return self._failed(
                tool, "internal_error",
                f"The gateway hit an internal error running {tool.name} (request id {call.request_id}). "
                "Nothing more is known about whether it took effect; check with a read tool before retrying.",
            )
        self._metrics.tool_call(tool.name, "ok")
        return Complete(structured)

    def refuse(self, tool: Tool, text: str) -> ToolFailed:
        """An `isError` outcome for a call refused before it ran (it reached beyond the connection's page)."""
        return self._failed(tool, "outside_surface", text)

    def _failed(self, tool: Tool, outcome: str, text: str, data: Mapping[str, Any] | None = None) -> ToolFailed:
        self._metrics.tool_call(tool.name, outcome)
        return ToolFailed(outcome, text, data)


def progress_reporter(token: str | int | None, notify: Notify) -> ProgressFn:
    """ctx.progress for a tool: a notifications/progress message per step, when the client asked for them."""
    if token is None:
        return no_progress

    async def report(progress: float, total: float | None = None, message: str | None = None) -> None:
        report_params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            report_params["total"] = total
        if message is not None:
            report_params["message"] = message
        await notify({"jsonrpc": "2.0", "method": "notifications/progress", "params": report_params})

    return report
