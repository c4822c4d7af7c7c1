"""Upstream failures, carried as data so the tool layer can explain them to the model.

`describe(err)` turns one into the short text a model reads in an `isError` result: what happened and
what to do next. None of these carry the API key: the client never puts it in an error, and scrubs it
from any text StatusPal echoes back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.observability.redaction import quotable


@dataclass
class UpstreamError(Exception):
    """StatusPal answered with an error, or could not be reached.

    `status` is the HTTP status (0 when no answer arrived); `code`, `message`, `details` come from
    StatusPal's `{error, message, details}` body when it has one. `endpoint` and `target` (the path
    parameters: subdomain, slug, ids — never a secret) say what was asked, so the text can name the thing
    that was not found. `outcome_unknown` is set when a POST may have reached StatusPal but no usable
    answer came back: repeating it blindly could create a second incident and notify subscribers twice.
    `method` and `path` (relative to the base URL) say which request it was; `excerpt` is a short, clean
    slice of the raw answer (the caller's key scrubbed out). `route_missing` marks a 404 whose body is not
    StatusPal's record-not-found envelope: on a Rails server that is what a route it does not have answers,
    so the message must not claim a record is missing when the gateway may be calling the wrong address.
    """

    status: int
    code: str = ""
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    endpoint: str = ""
    target: Mapping[str, str] = field(default_factory=dict)
    outcome_unknown: bool = False
    method: str = ""
    path: str = ""
    excerpt: str = ""
    route_missing: bool = False

    def __str__(self) -> str:
        return f"StatusPal API error {self.status} {self.code}: {self.message}"


class UpstreamAuthError(UpstreamError):
    """The key itself was refused: any 401, or a 401/403 to the key check. The transport answers HTTP 401 so
    clients re-authorise; nothing else ends a connection's credentials."""


class UpstreamForbidden(UpstreamError):
    """A 403 outside the key check: this key may not reach this one resource (a key limited to some pages,
    say). The key still works elsewhere, so this is an ordinary tool error, never a forced sign-out."""


class UpstreamUnavailable(UpstreamError):
    """No usable answer: timeout, dropped connection, or 5xx/429 after the retries ran out."""


# endpoint-name prefix -> (what it is, the tool that lists them, the path parameter naming one)
_RESOURCES = {
    "status_pages": ("status page", "list_status_pages", "subdomain"),
    "services": ("service", "list_services", "slug"),
    "containers": ("container (region)", "list_containers", "slug"),
    "notices": ("notice", "list_notices", "notice_id"),
    "webhooks": ("webhook", "list_webhooks", "webhook_id"),
}
_MAX_FIELDS = 8


def describe(err: UpstreamError) -> str:
    """The model-facing text for an upstream failure: specific, short, and with the next step."""
    label = f"{err.status} {err.code}".strip() if err.status else (err.code or "no answer")
    if err.outcome_unknown and err.endpoint == "webhooks_rotate_secret":
        # No read can settle this one: StatusPal never shows a secret again after the answer that was lost.
        return (
            f"The rotation reached StatusPal but no usable answer came back ({label}: {err.message}), so it is "
            "unknown whether the secret was replaced, and no read can tell: StatusPal never shows a secret again. "
            "If it was replaced, the receiver's secret no longer verifies deliveries. Call rotate_webhook_secret "
            "again to get a secret you know, and store it in the receiver."
        )
    if err.outcome_unknown:
        check = _check_hint(err)
        return (
            f"The request reached StatusPal but no usable answer came back ({label}: {err.message}), so it is "
            f"unknown whether it took effect. Do not repeat it blindly: {check}, and call the tool again only "
            "if the change is missing."
        )
    if isinstance(err, UpstreamForbidden):
        return (
            f"This API key cannot reach {_subject(err)}: StatusPal answered 403 {err.code or 'forbidden'} "
            f"({(err.message or 'not allowed').rstrip('.')}). Other calls with this key still work; to reach it, use "
            "a key whose organization and permissions cover it. Call list_status_pages to see the "
            "pages this key can reach."
        )
    if isinstance(err, UpstreamAuthError):
        return (
            f"StatusPal rejected the API key (401 {err.code or 'unauthorized'}): it is missing, invalid or revoked. "
            "Reconnect with a valid StatusPal Next API key (created under the organization's API keys settings)."
        )
    if err.status == 404:
        return _not_found(err)
    if isinstance(err, UpstreamUnavailable) or err.status == 429 or err.status >= 500 or err.status == 0:
        when = f"in {math.ceil(err.retry_after)} seconds" if err.retry_after else "in a little while"
        if err.status == 429:
            head = "StatusPal is rate limiting requests (429)."
        elif err.status == 0:
            head = f"StatusPal could not be reached ({label}: {err.message})."
        else:
            head = f"StatusPal is temporarily unavailable ({label}: {err.message or 'no details'})."
        return f"{head} This is temporary: try again {when}."
    text = f"StatusPal rejected the request ({label}): {(err.message or 'no details').rstrip('.')}."
    fields = _fields(err.details)
    if fields:
        return f"{text} {fields} Fix the fields above and call the tool again."
    return f"{text} Check the arguments and call the tool again."


def _resource(endpoint: str) -> tuple[str, str, str] | None:
    for prefix, info in _RESOURCES.items():
        if endpoint.startswith(prefix + "_"):
            return info
    return None


def _quote(value: Any) -> str:
    return repr(quotable(value))


def _subject(err: UpstreamError) -> str:
    """The resource a failed call was about, in words: 'service 'api' on status page 'acme''."""
    info = _resource(err.endpoint)
    subdomain = err.target.get("subdomain")
    if info is not None:
        noun, _, id_param = info
        ident = err.target.get(id_param)
        if noun == "status page" and subdomain is not None:
            return f"status page {_quote(subdomain)}"
        if ident is not None and subdomain is not None:
            return f"{noun} {_quote(ident)} on status page {_quote(subdomain)}"
        if ident is not None:
            return f"{noun} {_quote(ident)}"
        if subdomain is not None:
            plural = noun.replace(" (region)", "s (regions)") if "(region)" in noun else noun + "s"
            return f"the {plural} of status page {_quote(subdomain)}"
    return f"{err.method} {err.path}".strip() or "that resource"


def _route_missing(err: UpstreamError) -> str:
    return (
        f"StatusPal answered 404 to {err.method} {err.path} without its record-not-found answer, so this route "
        f"may not exist on this StatusPal; it does not mean that a status page or record is missing. "
        f"Raw answer: {repr(err.excerpt or '(empty)')}. The operator should run `statuspal-mcp check-api` "
        "and correct the route under [statuspal.endpoints] in config.toml."
    )


def _not_found(err: UpstreamError) -> str:
    if err.route_missing:
        return _route_missing(err)
    info = _resource(err.endpoint)
    subdomain = err.target.get("subdomain")
    if info is None:
        return "StatusPal found nothing at that address (404 not_found). Check the identifiers with the matching list tool."
    noun, list_tool, id_param = info
    ident = err.target.get(id_param)
    if noun == "webhook":
        return f"StatusPal found no webhook {_quote(ident)} for this API key. Call list_webhooks to see the valid webhook ids."
    if noun == "status page" or ident is None:
        return (
            f"StatusPal found no status page with subdomain {_quote(subdomain)} for this API key. "
            "Call list_status_pages to see the pages this key can reach."
        )
    return (
        f"StatusPal found no {noun} {_quote(ident)} on status page {_quote(subdomain)} (or that page does not exist). "
        f"Call {list_tool} with subdomain {_quote(subdomain)} to see what exists."
    )


def _check_hint(err: UpstreamError) -> str:
    info = _resource(err.endpoint)
    if info is None:
        return "check the current state with the matching list or get tool first"
    noun, list_tool, _ = info
    where = f" with subdomain {_quote(err.target['subdomain'])}" if "subdomain" in err.target and noun != "status page" else ""
    return f"first call {list_tool}{where} (or the matching get tool) to see whether the {noun} change is there"


def _fields(details: Mapping[str, Any] | Any, prefix: str = "") -> str:
    """`{field: [messages]}` (possibly nested) as 'field: message, message.' sentences, at most a few."""
    if not isinstance(details, Mapping):
        return ""
    parts: list[str] = []
    for name, value in details.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            nested = _fields(value, path + ".")
            if nested:
                parts.append(nested)
        elif isinstance(value, (list, tuple)):
            parts.append(f"{path}: {', '.join(str(v) for v in value)}.")
        else:
            parts.append(f"{path}: {value}.")
        if len(parts) >= _MAX_FIELDS:
            parts.append("(more fields omitted)")
            break
    return " ".join(parts)
