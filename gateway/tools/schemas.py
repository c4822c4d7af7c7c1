"""JSON Schema fragments the tool modules share: identifiers, list arguments, `notify`, `affected`, and the
shape of every StatusPal resource a tool returns.

Input schemas are closed (`additionalProperties: false`) so a misspelt argument is refused before anything
reaches StatusPal. Output schemas are open on purpose: StatusPal may add fields at any time, and clients
validate `structuredContent` against these schemas, so an exhaustive closed schema would turn an upstream
addition into a broken tool. They list the fields a model relies on and require only the identifiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.auth.surfaces import SUBDOMAIN_PATTERN
from gateway.statuspal.endpoints import MAX_PER_PAGE, WEBHOOK_EVENTS

Schema = dict[str, Any]


def obj(properties: Mapping[str, Schema], required: tuple[str, ...] = (), *, closed: bool = True, **extra: Any) -> Schema:
    """An object schema; closed (no unknown properties) unless said otherwise."""
    schema: Schema = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def text(description: str, *, max_length: int = 255, **extra: Any) -> Schema:
    """A bounded string. No minLength: StatusPal refuses a blank name or text with a 422 that says so, and the
    keyword would be repeated in every tool's schema for that alone."""
    return {"type": "string", "maxLength": max_length, "description": description, **extra}


def boolean(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def nullable(type_: str, description: str = "", **extra: Any) -> Schema:
    """A value or null, spelled with anyOf: some clients reject `type` arrays (the Inspector's --strict warns)."""
    schema: Schema = {"anyOf": [{"type": type_, **extra}, {"type": "null"}]}
    if description:
        schema["description"] = description
    return schema


# --- identifiers ----------------------------------------------------------------------------------------

# Lookup identifiers carry patterns: a display name ("Web Console") can never be a slug or an id, so it is
# refused by the schema, and the refusal quotes the description, which names the list_ tool that shows them.
def pattern(regex: str, description: str) -> Schema:
    """A string bounded by its pattern alone (the pattern's `{m,n}` is its length limit)."""
    return {"type": "string", "pattern": regex, "description": description}


SUBDOMAIN = pattern(SUBDOMAIN_PATTERN, "Page subdomain, not name (list_status_pages).")
NEW_SLUG_PATTERN = "^(?=.{1,100}$)[a-z0-9]+(-[a-z0-9]+)*$"
# Existing slugs may be older than StatusPal's current slug rules, so a lookup accepts `_` too; still no spaces
# or capitals, which only a display name has.
SLUG_PATTERN = "^[a-z0-9_-]{1,100}$"
NOTICE_ID = pattern("^[A-Za-z0-9_-]{1,100}$", "Notice id (list_notices).")
WEBHOOK_ID = pattern("^wbk_[A-Za-z0-9]{1,96}$", "Webhook id (list_webhooks).")


def slug(lister: str, example: str) -> Schema:
    return pattern(SLUG_PATTERN, f"Slug, not the name: e.g. `{example}` ({lister}).")


def new_slug() -> Schema:
    """The optional slug of a create: StatusPal derives one from the name when it is left out."""
    return pattern(NEW_SLUG_PATTERN, "Omit to derive from the name (`US East` → `us-east`).")


def renamed_slug() -> Schema:
    """The slug an update moves the resource to; left out, the current slug stays."""
    return pattern(NEW_SLUG_PATTERN, "Later calls must use it; notices follow.")


# --- status pages ---------------------------------------------------------------------------------------

NEW_SUBDOMAIN = pattern("^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$", "Permanent, e.g. `acme-status`.")
PAGE_SETTINGS: Mapping[str, Schema] = {
    "name": text("Page title."),
    "timezone": text("IANA, e.g. `Europe/Berlin`.", max_length=64),
    "website_url": text("Linked from the page.", max_length=2048, pattern="^https?://"),
    "require_authentication": boolean("true: members only."),
    "notification_settings": obj(
        {
            "email_enabled": boolean("Email alerts."),
            "slack_enabled": boolean("Slack alerts."),
            "rss_feed_enabled": boolean("RSS feed of notices."),
        },
        description="Subscription channels; unnamed ones keep their value.",
    ),
}

# --- list arguments -------------------------------------------------------------------------------------

LIST_ARGUMENTS: Mapping[str, Schema] = {
    "page": {"type": "integer", "minimum": 1, "description": "From 1; ignored with all."},
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "description": "Default 20."},
    "all": boolean("Every page (a call each, 10/s per key); ignores page; past 20 KB go on with cursor."),
    "cursor": {"type": "string", "maxLength": 64, "description": "next_cursor of a cut answer; same other arguments."},
}

# --- notices --------------------------------------------------------------------------------------------

NOTIFY = boolean("Messages all subscribers now, beyond recall. Ask the user.")
DATETIME = {"type": "string", "format": "date-time", "maxLength": 64}
SEVERITY = {
    "type": "string",
    "enum": ["minor", "major"],
    "description": "major: down; minor: degraded.",
}
AFFECTED_ENTRY = obj(
    {
        "service_slug": pattern(SLUG_PATTERN, "list_services."),
        "container_slugs": {
            "type": "array",
            "items": {"type": "string", "pattern": SLUG_PATTERN},
            "minItems": 1,
            "description": "Only these regions (list_containers).",
        },
    },
    ("service_slug",),
)
AFFECTED = {
    "type": "array",
    "items": AFFECTED_ENTRY,
    "minItems": 1,
    "description": 'Slugs, not names: e.g. [{"service_slug":"api","container_slugs":["eu"]}]',
}
MESSAGE = text("Timeline text.", max_length=10000)

# --- webhooks -------------------------------------------------------------------------------------------

EVENTS = {
    "type": "array",
    "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)},
    "minItems": 1,
    "uniqueItems": True,
    "description": "Events that trigger a POST.",
}
WEBHOOK_URL = text("Receives the POSTs.", max_length=2048, pattern="^https://")
ALL_STATUS_PAGES = boolean("true: every page, future ones too.")
STATUS_PAGE_SUBDOMAINS = {
    "type": "array",
    "items": {"type": "string", "pattern": SUBDOMAIN_PATTERN},
    "minItems": 1,
    "uniqueItems": True,
    "description": "Only these pages; sets all_status_pages false.",
}

# --- outputs: one schema per resource -------------------------------------------------------------------

# Output schemas name the fields a model relies on, with their types; what the values mean is said once, in the
# server instructions, not repeated in every tool that returns the resource.
_STR = {"type": "string"}
_STRS = {"type": "array", "items": _STR}
# A field that may be null: a string or null. An untyped `{}` accepts anything (the Inspector's --strict warns
# that it constrains nothing), and a type list ["string", "null"] is refused by single-type dialects such as
# Gemini's (--strict warns again); anyOf with one type per branch is what every client reads.
_TEXT_OR_NULL = nullable("string")

STATUS_PAGE = obj(
    {"subdomain": _STR, "name": _STR, "current_status": _STR, "require_authentication": {"type": "boolean"}},
    ("subdomain",),
    closed=False,
)

SERVICE = obj(
    {
        "slug": _STR,
        "name": _STR,
        "description": _TEXT_OR_NULL,
        "order": {"type": "integer"},
        "status": _STR,
        "container_statuses": {"type": "array", "items": obj({"container_slug": _STR, "status": _STR}, closed=False)},
    },
    ("slug",),
    closed=False,
)

CONTAINER = obj(
    {"slug": _STR, "name": _STR, "services": {"type": "array", "items": obj({"slug": _STR, "status": _STR}, closed=False)}},
    ("slug",),
    closed=False,
)

NOTICE = obj(
    {
        "id": _STR,
        "title": _STR,
        "notice_type": _STR,
        "severity": _TEXT_OR_NULL,
        # One of the tools' own words (the instructions list them once), or null for a word [statuspal.notices]
        # does not map, with StatusPal's word beside it in `wire_state`: never passed off as one of them.
        "state": _TEXT_OR_NULL,
        "starts_at": _TEXT_OR_NULL,
        "ends_at": _TEXT_OR_NULL,
        "affected": {"type": "array", "items": obj({"service_slug": _STR, "container_slugs": _STRS}, closed=False)},
        "updates": {
            "type": "array",
            "items": obj({"message": _STR, "notified": {"type": "boolean"}, "posted_at": _STR}, closed=False),
        },
    },
    ("id",),
    closed=False,
)

WEBHOOK = obj(
    {
        "id": _STR,
        "name": _STR,
        "url": _STR,
        "events": _STRS,
        "enabled": {"type": "boolean"},
        "all_status_pages": {"type": "boolean"},
        "status_page_subdomains": _STRS,
        "last_triggered_at": _TEXT_OR_NULL,
        "last_attempted_at": _TEXT_OR_NULL,
    },
    ("id",),
    closed=False,
)

WEBHOOK_WITH_SECRET = obj(
    {"id": _STR, "secret": {"type": "string", "description": "Shown this once: give it to the user."}},
    ("id", "secret"),
    closed=False,
)

# Rotation is confirmed only by name (StatusPal's own client says the secret comes back on "regenerate_secret"
# answers), so the answer may be the secret alone: the new secret is all a rotation must return.
WEBHOOK_ROTATED = obj(WEBHOOK_WITH_SECRET["properties"], ("secret",), closed=False)


def written(item: Schema, *fields: str) -> Schema:
    """The output of a write: the record StatusPal then holds, in the shape its get tool shows (the server
    instructions say so once); only its identifier and the `fields` a model checks right after the write are
    repeated here."""
    props = {name: item["properties"][name] for name in (*item["required"], *fields)}
    return obj(props, tuple(item["required"]), closed=False)


# What a list answer cut to fit a client's window adds (gateway/tools/fit.py).
CUT_LIST: Mapping[str, Schema] = {
    "offset": {"type": "integer", "description": "Skipped by cursor."},
    "remaining": {"type": "integer"},
    "next_cursor": {"type": "string"},
    "cut": {"type": "string"},
}


def listing(item: Schema) -> Schema:
    """The output of every list tool: one page of items plus where it sits in the whole collection. Items are
    the records the matching get_ tool returns (the server instructions say so once); only the name of their
    identifier is repeated here."""
    count = {"type": "integer"}
    return obj(
        {"items": {"type": "array", "items": {"type": "object", "required": item["required"]}}, "page": count,
         "per_page": count, "total_count": count, "total_pages": count, **CUT_LIST},
        ("items", "page", "per_page", "total_count", "total_pages"),
        closed=False,
    )


def deleted(*identifiers: str) -> Schema:
    """The output of every delete tool: `deleted: true` plus the identifiers of what is gone."""
    return obj(
        {"deleted": {"type": "boolean", "const": True}, **{name: {"type": "string"} for name in identifiers}},
        ("deleted", *identifiers),
        closed=False,
    )
