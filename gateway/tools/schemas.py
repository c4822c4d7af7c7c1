"""JSON Schema fragments the tool modules share: identifiers, list arguments, `notify`, `affected`, and the
shape of every StatusPal resource a tool returns.

Input schemas are closed (`additionalProperties: false`) so a misspelt argument is refused before anything
reaches StatusPal. Output schemas are open on purpose: StatusPal may add fields at any time, and clients
validate `structuredContent` against these schemas, so an exhaustive closed schema would turn an upstream
addition into a broken tool. They list the fields a model relies on and require only the identifiers.
"""

from __future__ import annotations

from typing import Any, Mapping

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
    return {"type": "string", "minLength": 1, "maxLength": max_length, "description": description, **extra}


def boolean(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def nullable(type_: str, description: str = "", **extra: Any) -> Schema:
    """A value or null, spelled with anyOf: some clients reject `type` arrays (the Inspector's --strict warns)."""
    schema: Schema = {"anyOf": [{"type": type_, **extra}, {"type": "null"}]}
    if description:
        schema["description"] = description
    return schema


# --- identifiers ----------------------------------------------------------------------------------------

# A subdomain is one DNS label; anything else can never name a page, so it is refused locally.
SUBDOMAIN = text(
    "The status page's subdomain, its identifier (e.g. `acme-status`); list_status_pages shows them.",
    max_length=63,
    pattern="^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$",
)
NEW_SLUG_PATTERN = "^[a-z0-9]+(?:-[a-z0-9]+)*$"
NOTICE_ID = text("The notice's id (a UUID string); list_notices shows them.", max_length=100)
WEBHOOK_ID = text(
    "The webhook's id, a TypeID starting with `wbk_`; list_webhooks shows them.", max_length=100, pattern="^wbk_"
)


def slug(what: str, lister: str, example: str) -> Schema:
    return text(f"The {what}'s slug, its identifier within the page (e.g. `{example}`); {lister} shows them.", max_length=100)


_SLUG_FORMAT = "lowercase letters and digits, words joined by single `-`"


def new_slug(what: str) -> Schema:
    """The optional slug of a create: StatusPal derives one from the name when it is left out."""
    return text(
        f"URL-safe identifier for the {what}: {_SLUG_FORMAT}. Omit to let StatusPal derive it from the name "
        "(e.g. `us-east` from `US East`; a numeric suffix is added on a collision).",
        max_length=100,
        pattern=NEW_SLUG_PATTERN,
    )


def renamed_slug(what: str) -> Schema:
    """The slug an update moves the resource to; left out, the current slug stays."""
    return text(
        f"Replacement slug for the {what}, {_SLUG_FORMAT}; refused if another {what} of the page has it. Later "
        "calls and `affected` entries must use it; existing notices follow. Omit to keep the current slug.",
        max_length=100,
        pattern=NEW_SLUG_PATTERN,
    )


# --- status pages ---------------------------------------------------------------------------------------

NEW_SUBDOMAIN = text(
    "Subdomain for the new page and its identifier from then on: one DNS label of lowercase letters, digits "
    "and `-` (e.g. `acme-status`). It cannot be changed later.",
    max_length=63,
    pattern="^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
)
PAGE_SETTINGS: Mapping[str, Schema] = {
    "name": text("Name shown as the page's title, e.g. `Acme Status`."),
    "timezone": text("IANA time zone the page shows times in, e.g. `Europe/Berlin` or `UTC`.", max_length=64),
    "website_url": text(
        "Your product's website, linked from the page (absolute http(s) URL).",
        max_length=2048,
        format="uri",
        pattern="^https?://",
    ),
    "require_authentication": boolean(
        "true makes the page private: only signed-in members of the organization can view it (default false)."
    ),
    "notification_settings": obj(
        {
            "email_enabled": boolean("Offer email subscriptions (StatusPal's default: true)."),
            "slack_enabled": boolean("Offer Slack subscriptions (default: false)."),
            "rss_feed_enabled": boolean("Publish an RSS feed (default: true)."),
        },
        description="The subscription channels the page offers its readers; keys left out keep their current "
        "value (their default on create).",
    ),
}

# --- list arguments -------------------------------------------------------------------------------------

LIST_ARGUMENTS: Mapping[str, Schema] = {
    "page": {"type": "integer", "minimum": 1, "description": "Page number, from 1. Ignored with all: true."},
    "per_page": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_PER_PAGE,
        "description": f"Results per page, 1-{MAX_PER_PAGE} (StatusPal's default is 20).",
    },
    "all": boolean(
        "true to fetch every page and return them as one list, up to the server's page and time limits "
        "(`truncated` says when a limit cut it short). Each page is one StatusPal request, throttled to 10 a "
        "second per key, so omit it when one page answers the question."
    ),
}

# --- notices --------------------------------------------------------------------------------------------

NOTIFY = boolean(
    "Required, no default: true asks StatusPal to message every subscriber of the page right now (a "
    "notification cannot be recalled); false asks StatusPal not to notify. Ask the user when they did not say."
)
DATETIME = {"type": "string", "format": "date-time", "maxLength": 64}
SEVERITY = {
    "type": "string",
    "enum": ["minor", "major"],
    "description": "major: the services are down or unusable (service `major`, page `unavailable`); "
    "minor: partly working, e.g. slow or some errors (service `minor`, page `degraded`).",
}
AFFECTED_ENTRY = obj(
    {
        "service_slug": text("Slug of an affected service (list_services).", max_length=100),
        "container_slugs": {
            "type": "array",
            "items": text("Slug of a container (region, e.g. `eu`); list_containers shows them.", max_length=100),
            "minItems": 1,
            "uniqueItems": True,
            "description": "Only these regions are affected. Omit when the service is affected in every region.",
        },
    },
    ("service_slug",),
)
AFFECTED = {
    "type": "array",
    "items": AFFECTED_ENTRY,
    "minItems": 1,
    "description": "The affected services, one entry per service, each optionally narrowed to some regions, "
    'e.g. [{"service_slug": "api", "container_slugs": ["eu"]}].',
}
MESSAGE = text("Text published on the page's timeline, in plain language for the page's readers.", max_length=10000)

# --- webhooks -------------------------------------------------------------------------------------------

EVENTS = {
    "type": "array",
    "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)},
    "minItems": 1,
    "uniqueItems": True,
    "description": "Events that trigger a delivery: service.status_changed (a service's live status changed), "
    "notice.created, notice.update_posted (timeline entry), notice.updated (details edited).",
}
WEBHOOK_URL = text(
    "HTTPS URL that receives a POST with a JSON payload per event.", max_length=2048, format="uri", pattern="^https://"
)
ALL_STATUS_PAGES = boolean(
    "true: fire for every status page of the organization, including pages created later (StatusPal's "
    "default); this clears status_page_subdomains. To limit the webhook to some pages, pass "
    "status_page_subdomains instead (that sets false)."
)
STATUS_PAGE_SUBDOMAINS = {
    "type": "array",
    "items": SUBDOMAIN,
    "minItems": 1,
    "uniqueItems": True,
    "description": "Fire only for these status pages (this sets all_status_pages to false).",
}

# --- outputs: one schema per resource -------------------------------------------------------------------

_TIMESTAMPS: Mapping[str, Schema] = {"created_at": {"type": "string"}, "updated_at": {"type": "string"}}

STATUS_PAGE = obj(
    {
        "id": {"type": "string"},
        "subdomain": {"type": "string"},
        "name": {"type": "string"},
        "timezone": {"type": "string"},
        "website_url": {"type": "string"},
        "current_status": {
            "type": "string",
            "description": "operational, degraded or unavailable; derived from active notices and services.",
        },
        "require_authentication": {"type": "boolean"},
        "notification_settings": {"type": "object"},
        **_TIMESTAMPS,
    },
    ("subdomain",),
    closed=False,
)

SERVICE = obj(
    {
        "id": {"type": "string"},
        "slug": {"type": "string"},
        "name": {"type": "string"},
        "description": nullable("string"),
        "order": {"type": "integer"},
        "status": {
            "type": "string",
            "description": "ok, minor, major or maintenance: the worst status across the service's regions.",
        },
        "container_statuses": {
            "type": "array",
            "items": {"type": "object", "properties": {"container_slug": {"type": "string"}, "status": {"type": "string"}}},
            "description": "The service's status in each container (region).",
        },
        **_TIMESTAMPS,
    },
    ("slug",),
    closed=False,
)

CONTAINER = obj(
    {
        "id": {"type": "string"},
        "slug": {"type": "string"},
        "name": {"type": "string"},
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"slug": {"type": "string"}, "name": {"type": "string"}, "status": {"type": "string"}},
            },
            "description": "Every service of the page, with its status in this container.",
        },
        **_TIMESTAMPS,
    },
    ("slug",),
    closed=False,
)

NOTICE = obj(
    {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "notice_type": {"type": "string", "description": "incident, maintenance or info."},
        "severity": nullable("string", "minor or major for incidents; null otherwise."),
        "state": {
            "type": "string",
            "description": "incident: open or resolved; maintenance: scheduled, in_progress or completed; info: "
            "open or closed.",
        },
        "starts_at": nullable("string"),
        "ends_at": nullable("string", "End of a maintenance window; set on an incident once resolved."),
        "affected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"service_slug": {"type": "string"}, "container_slugs": {"type": "array", "items": {"type": "string"}}},
            },
        },
        "updates": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "notified": {"type": "boolean"},
                    "posted_at": {"type": "string"},
                },
            },
            "description": "The timeline, oldest first; the first entry is the message given on create.",
        },
        "resolved_at": nullable("string"),
        "closed_at": nullable("string"),
        **_TIMESTAMPS,
    },
    ("id",),
    closed=False,
)

WEBHOOK = obj(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "enabled": {"type": "boolean"},
        "all_status_pages": {"type": "boolean"},
        "status_page_subdomains": {"type": "array", "items": {"type": "string"}},
        "last_triggered_at": nullable("string", "Last successful delivery."),
        "last_attempted_at": nullable("string", "Last delivery attempt."),
        **_TIMESTAMPS,
    },
    ("id",),
    closed=False,
)

WEBHOOK_WITH_SECRET = obj(
    {
        **WEBHOOK["properties"],
        "secret": {
            "type": "string",
            "description": "The signing secret (whs_…), shown this once only: give it to the user to store in the "
            "receiver now; no tool can read it again.",
        },
    },
    ("id", "secret"),
    closed=False,
)

# Rotation is confirmed only by name (StatusPal's own client says the secret comes back on "regenerate_secret"
# answers), so the answer may be the secret alone: the new secret is all a rotation must return.
WEBHOOK_ROTATED = obj(WEBHOOK_WITH_SECRET["properties"], ("secret",), closed=False)


def listing(item: Schema) -> Schema:
    """The output of every list tool: one page of items plus where it sits in the whole collection."""
    return obj(
        {
            "items": {"type": "array", "items": item},
            "page": {"type": "integer", "description": "The page returned (1 with all: true)."},
            "per_page": {"type": "integer"},
            "total_count": {"type": "integer", "description": "Items in the whole collection."},
            "total_pages": {"type": "integer", "description": "Pages in the whole collection at this per_page."},
            "truncated": {
                "type": "boolean",
                "description": "With all: true, true when the server's page or time limit stopped the walk before the end.",
            },
        },
        ("items", "page", "per_page", "total_count", "total_pages"),
    )


def deleted(*identifiers: str) -> Schema:
    """The output of every delete tool: `deleted: true` plus the identifiers of what is gone."""
    return obj(
        {"deleted": {"const": True}, **{name: {"type": "string"} for name in identifiers}},
        ("deleted", *identifiers),
    )
