"""Which channel, if any, a confirmed call goes through: the richest the client declared.

1. The publish preview (an MCP App view) for a client that declared the apps extension, in either era.
2. Form elicitation for a 2026-07-28 client that declared form elicitation: the answer comes back on a retry of
   the same request, so any instance can take it. A handshake-era client that declares elicitation gets none:
   its answer would have to reach the one instance holding its open stream.
3. Otherwise the client's own approval (today's behaviour, with a required `notify`), or, when the operator
   hides unconfirmable tools, no such tool at all.

A person whose client declares elicitation but answers every form with "decline" on its own can leave
confirmation to the client for a connection (`X-MCP-Confirm: client`): a header the person sets in the
client's configuration, never a tool argument, so a model cannot turn confirmation off for itself.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from gateway.auth.scopes import READ
from gateway.protocol.confirm.settings import ConfirmSettings
from gateway.protocol.meta import ClientCapabilities
from gateway.tools import review
from gateway.tools.base import Tool

CONFIRM_HEADER = "X-MCP-Confirm"
# The one value of CONFIRM_HEADER: confirmation is left to the client's own approval on this connection.
BY_CLIENT = "client"


class Channel(enum.Enum):
    APP = "app"
    FORM = "form"
    CLIENT = "none"  # left to the client's own approval


class ConfirmPolicy:
    def __init__(self, settings: ConfirmSettings, tools: Iterable[Tool]) -> None:
        tools = tuple(tools)
        names = {tool.name for tool in tools}
        unknown = sorted(set(settings.tools) - names)
        if unknown:
            raise ValueError(f"[confirm] tools names tools this gateway does not have: {', '.join(unknown)}")
        writes = {tool.name for tool in tools if tool.scope != READ}
        # A person can only confirm what can be shown to them: a write with a target to preview and re-read
        # (review.TARGETS). Naming another would list the tool as confirmed (with the preview, or hidden by
        # hide_unconfirmable) while its calls went through unconfirmed, so it is refused here; all_writes means
        # every write that has a preview.
        unshowable = sorted(set(settings.tools) & writes - set(review.TARGETS))
        if unshowable:
            raise ValueError(f"[confirm] tools names writes that have no preview to confirm: {', '.join(unshowable)}; "
                             f"those that have one: {', '.join(sorted(set(review.TARGETS) & writes))}")
        self.confirmed = frozenset((writes if settings.all_writes else set(settings.tools) & writes) & set(review.TARGETS))
        self.hide_unconfirmable = settings.hide_unconfirmable

    def confirms(self, tool_name: str) -> bool:
        return tool_name in self.confirmed

    @staticmethod
    def channel(capabilities: ClientCapabilities, modern: bool, by_client: bool) -> Channel:
        if capabilities.apps:
            return Channel.APP
        if modern and capabilities.elicitation_form and not by_client:
            return Channel.FORM
        return Channel.CLIENT
