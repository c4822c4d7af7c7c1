"""What a request says about itself beyond its method: the client's capabilities, progress, trace context, and
the answers to a server's earlier request for input. Parsed once per request by the dispatcher, so no later
step reads ``_meta`` again or trusts its raw shape.

Every value here comes from a stranger, so each is checked and bounded where it is read: a malformed field is
treated as absent, never as an error the client must understand, because none of them changes what the caller
is allowed to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_types import CLIENT_CAPABILITIES_META_KEY

# The MCP Apps extension (ext-apps): a client that declares it renders `ui://` views.
APPS_EXTENSION = "io.modelcontextprotocol/ui"
# W3C Trace Context, version 00: 2 + 32 + 16 + 2 lowercase hex digits; all-zero ids are invalid.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_MAX_TRACESTATE = 512
# What a client may declare of the apps extension's MIME types, and how long each may be: enough for every
# real client, small enough that the flags fit a session id.
_MAX_MIME_TYPES = 4
_MAX_MIME_CHARS = 64
_MAX_REQUEST_STATE = 8192
_MAX_INPUT_RESPONSES = 16


@dataclass(frozen=True, slots=True)
class ClientCapabilities:
    """The few client capabilities the gateway acts on: whether it renders MCP Apps (and which MIME types), and
    which elicitation modes it answers."""

    apps: bool = False
    app_mime_types: tuple[str, ...] = ()
    elicitation_form: bool = False
    elicitation_url: bool = False

    @classmethod
    def of(cls, capabilities: Any) -> ClientCapabilities:
        """From a client's `capabilities` object (``initialize`` params, or the 2026-07-28 per-request _meta)."""
        if not isinstance(capabilities, Mapping):
            return NO_CAPABILITIES
        extensions = capabilities.get("extensions")
        ui = extensions.get(APPS_EXTENSION) if isinstance(extensions, Mapping) else None
        mime_types: tuple[str, ...] = ()
        if isinstance(ui, Mapping) and isinstance(ui.get("mimeTypes"), list):
            mime_types = tuple(m for m in ui["mimeTypes"][:_MAX_MIME_TYPES] if isinstance(m, str) and len(m) <= _MAX_MIME_CHARS)
        elicitation = capabilities.get("elicitation")
        form = url = False
        if isinstance(elicitation, Mapping):
            # An empty elicitation object is form mode: the spec kept that reading for clients written before modes.
            form = "form" in elicitation or not elicitation
            url = "url" in elicitation
        found = cls(apps=isinstance(ui, Mapping), app_mime_types=mime_types, elicitation_form=form, elicitation_url=url)
        return NO_CAPABILITIES if found == NO_CAPABILITIES else found

    def compact(self) -> dict[str, Any]:
        """The flags as a session id carries them (a few dozen bytes; `from_compact` reads them back)."""
        flags = {"a": 1} if self.apps else {}
        if self.app_mime_types:
            flags["m"] = list(self.app_mime_types)  # type: ignore[assignment]
        if self.elicitation_form:
            flags["f"] = 1
        if self.elicitation_url:
            flags["u"] = 1
        return flags

    @classmethod
    def from_compact(cls, flags: Any) -> ClientCapabilities:
        if not isinstance(flags, Mapping) or not flags:
            return NO_CAPABILITIES
        mime_types = flags.get("m")
        return cls(
            apps=flags.get("a") == 1,
            app_mime_types=tuple(m for m in mime_types if isinstance(m, str)) if isinstance(mime_types, list) else (),
            elicitation_form=flags.get("f") == 1,
            elicitation_url=flags.get("u") == 1,
        )


NO_CAPABILITIES = ClientCapabilities()


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """One request's own context, as every later step reads it."""

    protocol_version: str
    # 2026-07-28 (no handshake, a _meta envelope on every request) rather than the handshake era.
    modern: bool = False
    capabilities: ClientCapabilities = NO_CAPABILITIES
    # The client asked for notifications/progress under this token.
    progress_token: str | int | None = None
    # 2026-07-28: the answers to an InputRequiredResult, and the state the server handed out with it.
    input_responses: Mapping[str, Any] = field(default_factory=dict)
    request_state: str | None = None
    # W3C Trace Context from params._meta (the MCP convention); only well-formed values are kept.
    traceparent: str | None = None
    tracestate: str | None = None


def parse_request_meta(params: Mapping[str, Any], version: str, session: ClientCapabilities, modern: bool) -> RequestMeta:
    """The request's meta. In 2026-07-28 the client states its capabilities on every request; in the handshake era
    they were stated once, in ``initialize``, and reach later requests through the session id (`session`)."""
    meta = params.get("_meta")
    if not isinstance(meta, Mapping):
        meta = {}
    capabilities = ClientCapabilities.of(meta.get(CLIENT_CAPABILITIES_META_KEY)) if modern else session
    token = meta.get("progressToken")
    traceparent = meta.get("traceparent")
    tracestate = meta.get("tracestate")
    well_formed = isinstance(traceparent, str) and _TRACEPARENT.match(traceparent) is not None
    responses = params.get("inputResponses") if modern else None
    state = params.get("requestState") if modern else None
    return RequestMeta(
        protocol_version=version,
        modern=modern,
        capabilities=capabilities,
        progress_token=token if isinstance(token, (str, int)) and not isinstance(token, bool) else None,
        input_responses=dict(responses) if isinstance(responses, Mapping) and len(responses) <= _MAX_INPUT_RESPONSES else {},
        request_state=state if isinstance(state, str) and len(state) <= _MAX_REQUEST_STATE else None,
        traceparent=traceparent if well_formed else None,
        tracestate=tracestate if well_formed and isinstance(tracestate, str) and len(tracestate) <= _MAX_TRACESTATE else None,
    )
