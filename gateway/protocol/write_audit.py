"""A tool write's audit event, from the pipeline's typed outcome: what the verified result says, not re-derived.

Outcomes, as an operator reads them:
- applied: StatusPal applied every field asked (the verification after the write confirmed it);
- partly_applied: StatusPal accepted the write but did not apply all of it (`detail.not_applied`, `detail.unconfirmed`);
- refused: nothing was sent, or StatusPal refused it as asked: bad arguments, a check of the tool's own, a person's
  no, an unusable approval, another page than the connection's;
- failed: StatusPal answered with an error and applied nothing;
- unknown: the answer was lost, so whether it took effect is not known (`detail.settle` names the read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.observability.audit import AuditEvent, safe_arguments
from gateway.observability.tracing import current_ids
from gateway.protocol.invocation import Invocation
from gateway.protocol.outcomes import Complete, KeyRefused, Outcome, ToolFailed
from gateway.tools.base import Tool

_REFUSED = frozenset({"invalid_arguments", "outside_surface", "refused", "declined", "tool_error"})
# Which argument names a target, per kind of record; a slug names a service or a region by the tool's toolset.
_TARGET_ARGS = {"subdomain": "page", "notice_id": "notice", "webhook_id": "webhook"}


def write_event(tool: Tool, arguments: Mapping[str, Any], outcome: Outcome, call: Invocation, confirmation: str) -> AuditEvent:
    verdict, detail = _verdict(outcome)
    credentials = call.caller.credentials
    return AuditEvent(
        event="tool_write",
        key_id=credentials.key_id,
        outcome=verdict,
        request_id=call.request_id,
        trace_id=_trace_id(call),
        client_id=credentials.client_id,
        client_name=credentials.client_name,
        client_verified=credentials.client_verified if credentials.kind == "sealed" else None,
        surface=call.caller.surface.path,
        tool=tool.name,
        targets=_targets(tool, arguments, outcome),
        arguments=safe_arguments(arguments),
        confirmation=confirmation,
        detail=detail,
    )


def _trace_id(call: Invocation) -> str | None:
    """The trace this write belongs to: the current span's when telemetry traces it, else the client's own."""
    ids = current_ids()
    if ids is not None:
        return ids[0]
    return call.meta.traceparent.split("-")[1] if call.meta.traceparent else None


def _verdict(outcome: Outcome) -> tuple[str, dict[str, Any]]:
    if isinstance(outcome, Complete):
        return "applied", {}
    if isinstance(outcome, KeyRefused):
        return "failed", {"why": "StatusPal refused the API key"}
    if isinstance(outcome, ToolFailed):
        data = outcome.data or {}
        if data.get("not_applied") or data.get("unconfirmed"):
            return "partly_applied", {k: data[k] for k in ("applied", "not_applied", "unconfirmed") if data.get(k)}
        if data.get("unknown") or outcome.outcome == "internal_error":
            return "unknown", {"settle": str(data.get("settle") or "read the record with its get tool before writing again")}
        if outcome.outcome in _REFUSED:
            return "refused", {"why": outcome.outcome}
        return "failed", {"why": outcome.outcome}
    return "unknown", {}


def _targets(tool: Tool, arguments: Mapping[str, Any], outcome: Outcome) -> dict[str, Any]:
    targets = {kind: arguments[name] for name, kind in _TARGET_ARGS.items() if name in arguments}
    kind = "region" if "containers" in tool.toolsets else "service"
    if "slug" in arguments:
        targets[kind] = arguments["slug"]
    if not isinstance(outcome, Complete):
        return targets
    # A create names its new record only in the result, which is read back only when the arguments do not name it.
    made_kind = "notice" if "notices" in tool.toolsets else "webhook" if "webhooks" in tool.toolsets else None
    wants_id = made_kind is not None and f"{made_kind}_id" not in arguments
    wants_slug = "slug" not in arguments and bool(tool.toolsets & {"services", "containers"})
    if wants_id or wants_slug:
        made = orjson.loads(outcome.structured)
        if isinstance(made, Mapping):
            if wants_id and made_kind and "id" in made:
                targets[made_kind] = made["id"]
            if wants_slug and "slug" in made:
                targets[kind] = made["slug"]
    return targets
