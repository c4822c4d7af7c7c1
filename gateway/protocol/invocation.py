"""One tools/call as every step after the transport sees it: who calls, from which surface, with what meta."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.identity import Credentials
from gateway.auth.surfaces import FULL, Surface
from gateway.protocol.meta import RequestMeta
from gateway.tools.base import ProgressFn, no_progress


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as every step after the transport sees them: the resolved credentials (key id, kind, and
    for OAuth the client id, the name the login page showed and whether it was verified) and the surface their
    URL allows. The API key itself stays inside the credentials and is used only for the upstream call."""

    credentials: Credentials
    surface: Surface = FULL
    # The person set this connection to leave confirmation to the client (`X-MCP-Confirm: client`).
    confirm_by_client: bool = False

    @property
    def key_id(self) -> str:
        return self.credentials.key_id


@dataclass(frozen=True, slots=True)
class Invocation:
    """One tools/call as the pipeline needs it."""

    caller: Caller
    meta: RequestMeta
    # Correlates the client's "request id …" with the server log line for internal errors.
    request_id: str
    # Sends notifications/progress over the call's answer (the transport switches it to SSE on first use).
    progress: ProgressFn = no_progress

    @property
    def modern(self) -> bool:
        return self.meta.modern
