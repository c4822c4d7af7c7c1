"""The confirmation step of the tools/call pipeline: before a confirmed tool writes, a person says yes.

`gate` runs after the arguments passed their schema and before the tool's handler. It answers None (write
now: the tool is not confirmed, the client has no channel, or the person just said yes on a form) or the
outcome to answer instead (the preview to review, the form to fill in, a refusal). `publish` is the other way
in: the publish preview's own call, carrying a sealed draft and the person's corrections.

Whatever a person approved is re-checked right before the write: the draft opens only for the same key,
surface, tool and arguments; it is used once; and the target is read again, so a notice resolved or a page
deleted since the person looked is not written to. Every refusal says that nothing was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.protocol.confirm.drafts import Binding, DraftRefused, Drafts, digest
from gateway.protocol.confirm.forms import CONFIRM_KEY, form_request
from gateway.protocol.confirm.policy import Channel, ConfirmPolicy
from gateway.protocol.outcomes import Deferred, InputRequired, Outcome, ToolFailed
from gateway.tools import review
from gateway.tools.base import Tool, ToolContext, ToolError

if TYPE_CHECKING:
    from gateway.protocol.invocation import Invocation

# Where the publish preview finds what it shows, in a Deferred result's _meta.
DRAFT_META = "statuspal/draft"
PREVIEW_META = "statuspal/preview"
VIEW_URI = "ui://statuspal/publish-preview.html"


class Confirmer:
    def __init__(self, policy: ConfirmPolicy, drafts: Drafts) -> None:
        self.policy = policy
        self._drafts = drafts

    def unsealed(self, token: Any) -> dict[str, Any] | None:
        """A draft's claims (the tool it names under "t"), or None for anything not sealed here as a draft."""
        return self._drafts.unseal(token)

    def channel(self, call: Invocation) -> Channel:
        return self.policy.channel(call.meta.capabilities, call.modern, call.caller.confirm_by_client)

    async def gate(self, tool: Tool, arguments: dict[str, Any], call: Invocation, ctx: ToolContext) -> tuple[Outcome | None, str]:
        """What holds the call back (None: go ahead), and how it was confirmed for the audit: "form" when a person
        has just accepted a form for exactly these arguments, else "none" (left to the client, or not yet)."""
        if not self.policy.confirms(tool.name):
            return None, "none"
        channel = self.channel(call)
        if channel is Channel.CLIENT:
            return None, "none"
        binding = self._binding(call, tool.name, channel)
        if channel is Channel.APP:
            shown, held = await review.preview(ctx, tool.name, arguments)
            draft, expires = self._drafts.seal(binding, arguments, held, carry_arguments=True)
            shown["expires_at"] = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return Deferred(_deferred_text(tool.name, shown), {DRAFT_META: draft, PREVIEW_META: shown}), "none"
        if call.meta.request_state is None:
            shown, held = await review.preview(ctx, tool.name, arguments)
            state, _ = self._drafts.seal(binding, arguments, held, carry_arguments=False)
            return InputRequired({CONFIRM_KEY: form_request(shown)}, state), "none"
        answered = await self._answered(tool, arguments, call, ctx, binding)
        return answered, "form" if answered is None else "none"

    async def _answered(self, tool: Tool, arguments: dict[str, Any], call: Invocation, ctx: ToolContext, binding: Binding) -> Outcome | None:
        """The retry of a form: the person's answer, checked against the sealed state before anything is written."""
        try:
            draft = self._drafts.open(call.meta.request_state, binding)
        except DraftRefused as exc:
            return refused(tool.name, str(exc))
        if draft.digest != digest(arguments):
            return refused(tool.name, "the arguments differ from the ones the person was asked about")
        answer = call.meta.input_responses.get(CONFIRM_KEY)
        action = answer.get("action") if isinstance(answer, Mapping) else None
        content = answer.get("content") if isinstance(answer, Mapping) else None
        content = content if isinstance(content, Mapping) else {}
        if action == "cancel":
            return ToolFailed("declined", f"The person closed the confirmation without deciding, so nothing was done. "
                                          f"Ask the user whether to try {tool.name} again.")
        if action != "accept" or content.get("publish") is not True:
            return ToolFailed("declined", f"The person said no, so nothing was done. Do not call {tool.name} again "
                                          "unless the user asks; ask them what they want instead.")
        if not _typed_as_asked(tool.name, arguments, content):
            return refused(tool.name, "the name typed does not match the page's subdomain")
        return await self._use(tool.name, arguments, draft, ctx)

    async def publish(self, tool: Tool, claims: Mapping[str, Any], corrections: Mapping[str, Any], call: Invocation,
                      ctx: ToolContext) -> tuple[dict[str, Any], Outcome | None]:
        """The publish preview's call: the draft's arguments with the person's corrections, ready to write (and
        None), or a refusal. `tool` is the one the draft names, already found on this surface."""
        binding = self._binding(call, tool.name, Channel.APP)
        try:
            draft = self._drafts.check(claims, binding)
        except DraftRefused as exc:
            return {}, refused(tool.name, str(exc))
        arguments = dict(draft.arguments or {})
        if draft.digest != digest(arguments):
            return {}, refused(tool.name, "the draft's arguments do not match its digest")
        if "text" in corrections and "message" in arguments:
            arguments["message"] = corrections["text"]
        if "notify" in corrections and "notify" in arguments:
            arguments["notify"] = corrections["notify"]
        if not _typed_as_asked(tool.name, arguments, corrections):
            return {}, refused(tool.name, "the name typed does not match the page's subdomain")
        return arguments, await self._use(tool.name, arguments, draft, ctx)

    async def _use(self, tool_name: str, arguments: Mapping[str, Any], draft: Any, ctx: ToolContext) -> Outcome | None:
        try:
            await self._drafts.use(draft)
        except DraftRefused as exc:
            return refused(tool_name, str(exc))
        try:
            now = await review.fingerprint(ctx, tool_name, arguments)
        except ToolError as exc:
            return refused(tool_name, str(exc))
        if now != draft.fingerprint:
            changed = ", ".join(k for k in now if now.get(k) != (draft.fingerprint or {}).get(k))
            return refused(tool_name, f"the target changed since the person reviewed it ({changed})")
        return None

    @staticmethod
    def _binding(call: Invocation, tool_name: str, channel: Channel) -> Binding:
        return Binding(call.caller.key_id, call.caller.surface.path, tool_name, channel.value)


def _typed_as_asked(tool_name: str, arguments: Mapping[str, Any], answer: Mapping[str, Any]) -> bool:
    """Whether the person typed what the write asks to be typed (a page's subdomain before deleting it), if anything."""
    expected = review.type_to_confirm(tool_name, arguments)
    return expected is None or answer.get("typed_name") == expected


def refused(tool_name: str | None, why: str) -> ToolFailed:
    """`tool_name`: the write the approval was for, which is what to call again; None when the draft names none
    this connection has (forged, or from elsewhere): publish_draft itself cannot show a new confirmation."""
    again = f"Call {tool_name} again" if tool_name else "Call the tool that made the draft again (create_incident, for one)"
    return ToolFailed("refused", f"This approval cannot be used: {why}. Nothing was written. {again} "
                                 "to show the person a new confirmation.")


def _deferred_text(tool_name: str, shown: Mapping[str, Any]) -> str:
    return (
        f"Nothing is published yet: {shown.get('summary', '')} The person is reviewing it in the publish preview, "
        "where they can correct the text and the notify choice, then publish or cancel. Do not call "
        f"{tool_name} again and do not report it as done; the preview tells you what was applied. If no preview "
        "appeared, tell the user their client could not show it: they can connect with a client that renders "
        "MCP Apps or answers forms, or leave confirmation to the client (see the gateway's docs)."
    )
