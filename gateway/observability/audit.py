"""The audit trail: one event for every write a tool attempts, and for every sign-in, grant, refresh and revocation.

It answers "who published this, from which assistant, and did StatusPal apply all of it?". An event names the
caller by key id (never the key) and OAuth client, the surface, the tool, its targets, the arguments with
secrets removed and free text cut short, how a person confirmed it, and the outcome the tool's own
verification reached. Events go to their own logger (`gateway.audit`), one JSON line each through the same
redacting formatter as every log line, so a secret that slipped into a value is still redacted on the way out.

With `[audit] history` on, the newest events of each key are also kept in the store (shared through Redis),
bounded per key (`history_per_key`) and in time (`history_days`), for the caller's own read tool. A stranger's
writes can only fill their own key's bounded list, never another's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from gateway.observability.redaction import quotable, redact_value

if TYPE_CHECKING:
    from gateway.store.base import Store

AUDIT_LOGGER = "gateway.audit"
# Free text in an event (a notice's message, a title) is cut to this: enough to recognise it, never a whole post.
TEXT_CHARS = 200
_HISTORY = "history:audit:"
log = logging.getLogger(AUDIT_LOGGER)


@dataclass(frozen=True)
class AuditSettings:
    # Keep the newest events per key in the store for the `list_audit_events` tool.
    history: bool = False
    history_per_key: int = 200
    history_days: int = 14


@dataclass(frozen=True)
class AuditEvent:
    event: str  # "tool_write", "sign_in", "grant", "refresh", "revocation"
    key_id: str
    outcome: str  # applied, partly_applied, refused, failed, unknown; for OAuth events: ok or refused
    time: float = field(default_factory=time.time)
    request_id: str | None = None
    trace_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    client_verified: bool | None = None
    surface: str | None = None
    tool: str | None = None
    targets: Mapping[str, Any] = field(default_factory=dict)
    arguments: Mapping[str, Any] = field(default_factory=dict)
    # How a person confirmed the write: "app" (the publish preview), "form" (form elicitation), "none" (the client's own).
    confirmation: str | None = None
    # What the outcome rests on: what StatusPal did not apply, or the read that settles an unknown outcome.
    detail: Mapping[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}


def safe_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments as an event keeps them: secret-looking names and values redacted, every string bounded."""
    return _bounded(redact_value(dict(arguments)))


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return quotable(value, TEXT_CHARS)
    if isinstance(value, Mapping):
        return {str(k): _bounded(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [_bounded(v) for v in value[:50]]
    return value


class AuditLogHandler(logging.Handler):
    """Hands audit events to OpenTelemetry logs when telemetry turns them on: the body is the event as JSON (the
    same redacted, bounded record the JSON line holds), the trace context the current span's, if any."""

    def __init__(self, provider: Any) -> None:
        super().__init__(logging.INFO)
        from opentelemetry.sdk._logs import LoggingHandler

        self._otel = LoggingHandler(logger_provider=provider)

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "audit", None)
        if not isinstance(event, Mapping):
            return
        body = logging.makeLogRecord({
            "name": record.name, "levelno": record.levelno, "levelname": record.levelname, "msg": orjson.dumps(event).decode(),
            "created": record.created, "msecs": record.msecs, "pathname": record.pathname, "lineno": record.lineno,
            "funcName": record.funcName,
        })
        self._otel.emit(body)


class AuditTrail:
    def __init__(self, settings: AuditSettings, store: Store | None) -> None:
        self.settings = settings
        self._store = store if settings.history else None

    async def record(self, event: AuditEvent) -> None:
        """Log the event; keep it in the key's history when that is on. A store that cannot take it loses the
        history entry only (logged), never the write it describes, which has already happened."""
        record = event.record()
        log.info("audit %s %s", event.event, event.outcome, extra={"audit": record})
        if self._store is None:
            return
        try:
            await self._store.append(
                _HISTORY + event.key_id, orjson.dumps(record).decode(), self.settings.history_per_key,
                self.settings.history_days * 86400,
            )
        except Exception as exc:  # noqa: BLE001  (the store's own errors vary by backend; none may fail a write)
            log.warning("audit history not kept: %s", exc)

    @property
    def keeps_history(self) -> bool:
        return self._store is not None

    async def history(self, key_id: str) -> list[dict[str, Any]]:
        """The key's kept events, newest first."""
        if self._store is None:
            return []
        return [orjson.loads(item) for item in reversed(await self._store.recent(_HISTORY + key_id))]
