"""Channel two: the confirmation as a 2026-07-28 form elicitation, saying the preview's facts in words.

The form's message is plain text the client shows the person. Every value in it that came from the caller or
from StatusPal (a title, the notice's text, a service's name) is cut to a bound and set in quotes after a
label, so it reads as the thing to be published, never as the form's own words or instructions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.observability.redaction import quotable

# The key of the one input request; the retry's inputResponses must answer it.
CONFIRM_KEY = "confirm"
_TEXT_CHARS = 600
_NAME_CHARS = 120


def form_request(preview: Mapping[str, Any]) -> dict[str, Any]:
    """The embedded elicitation/create request asking for the decision (and the typed name for a page delete)."""
    properties: dict[str, Any] = {
        "publish": {
            "type": "boolean",
            "title": _decision_title(preview),
            "description": "Yes: do it now. No: nothing happens.",
        },
    }
    required = ["publish"]
    delete = preview.get("delete") or {}
    if delete.get("type_to_confirm"):
        properties["typed_name"] = {
            "type": "string",
            "title": "Type the page's subdomain to confirm",
            "description": f"Exactly {_q(delete['type_to_confirm'], 63)}",
            "maxLength": 63,
        }
        required.append("typed_name")
    return {
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": form_message(preview),
            "requestedSchema": {"type": "object", "properties": properties, "required": required},
        },
    }


def form_message(preview: Mapping[str, Any]) -> str:
    lines = [str(preview.get("summary", "")), ""]
    page = preview.get("page") or {}
    if page:
        lines.append(f"Status page: {_q(page.get('name'))} ({_q(page.get('subdomain'), 63)}), now {page.get('status_now')}.")
        if page.get("status_predicted"):
            lines.append(f"Predicted status after this (a prediction): {page['status_predicted']}.")
    notice = preview.get("notice") or {}
    if notice:
        kind = " ".join(str(v) for v in (notice.get("severity"), notice.get("type")) if v)
        lines.append(f"Notice ({kind}): title {_q(notice.get('title'))}.")
        for entry in notice.get("affected") or []:
            regions = ", ".join(_q(r) for r in entry.get("regions") or []) or "all regions"
            lines.append(f"Affected: {_q(entry.get('service'))} in {regions}.")
        if notice.get("starts_at_local") or notice.get("ends_at_local"):
            lines.append(f"Window: {notice.get('starts_at_local') or 'now'} to {notice.get('ends_at_local') or 'open-ended'}.")
        if notice.get("text"):
            lines.append(f"Text to publish: {_q(notice['text'], _TEXT_CHARS)}")
    if preview.get("notify") is not None:
        lines.append(str(preview.get("notify_consequence", "")))
    delete = preview.get("delete") or {}
    if delete:
        lines.append(str(delete.get("what", "")))
        if delete.get("goes_with"):
            lines.append("Goes with it: " + "; ".join(str(g) for g in delete["goes_with"]) + ".")
    rotate = preview.get("rotate") or {}
    if rotate:
        lines.append(str(rotate.get("warning", "")))
    return "\n".join(line for line in lines if line is not None).strip()


def _decision_title(preview: Mapping[str, Any]) -> str:
    return {"delete": "Delete it", "rotate": "Rotate the secret"}.get(str(preview.get("action")), "Publish it")


def _q(value: Any, limit: int = _NAME_CHARS) -> str:
    """A caller's or StatusPal's value, bounded and quoted so it cannot pass for the form's own words."""
    return "“" + quotable(str(value), limit) + "”"
