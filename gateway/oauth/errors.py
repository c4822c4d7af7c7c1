"""The answers of the OAuth JSON endpoints (discovery, /register, /token, /revoke): one renderer for each shape.

Every answer that can carry a token, a client_id or an error about one is ``no-store`` (RFC 6749 §5.1), so
no cache between the client and us keeps it. Errors are the RFC 6749 §5.2 JSON object; the description is
scrubbed once more here, the net under every message that quotes caller input through `quotable()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from gateway.observability.redaction import redact_text

# HTTP/1.0 caches know only Pragma; RFC 6749 §5.1 asks for both on token responses.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer: `error` is the code clients act on, `description` is for the humans reading logs."""

    def __init__(self, error: str, description: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        # A 503 always says when to come back, so clients retry rather than give up or hammer.
        self.retry_after = retry_after if retry_after is not None else (5 if status == 503 else None)

    def response(self, **headers: str) -> web.Response:
        if self.retry_after is not None:
            headers = {"Retry-After": str(self.retry_after), **headers}
        return json_response(self.status, {"error": self.error, "error_description": redact_text(self.description)}, **headers)


def json_error(status: int, error: str, description: str, **headers: str) -> web.Response:
    """The JSON error shape every OAuth endpoint uses (RFC 6749 §5.2), with any extra headers (Retry-After, Allow)."""
    return OAuthError(error, description, status, retry_after=None).response(**headers)


def json_response(status: int, body: Mapping[str, Any], **headers: str) -> web.Response:
    """A no-store JSON answer."""
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers={**NO_STORE, **headers})
