"""Upstream failures, carried as data so the tool layer can explain them to the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass
class UpstreamError(Exception):
    """StatusPal answered with an error, or could not be reached.

    `status` is the HTTP status (0 when no answer arrived); `code`, `message`, `details` come from
    StatusPal's `{error, message, details}` body when it has one.
    """

    status: int
    code: str = ""
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"StatusPal API error {self.status} {self.code}: {self.message}"


class UpstreamAuthError(UpstreamError):
    """401/403 from StatusPal: the key is invalid or revoked. The transport answers HTTP 401 so clients re-authorise."""


class UpstreamUnavailable(UpstreamError):
    """No usable answer: timeout, dropped connection, or 5xx/429 after the retries ran out."""
