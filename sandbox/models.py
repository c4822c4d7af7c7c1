"""The sandbox's data: organizations (one per API key), their status pages, services, containers, notices
and outgoing webhooks, plus the statuses StatusPal derives from open notices.

Services, containers and notices point at each other by internal id, never by slug, so renaming a slug
through PATCH cannot leave a notice pointing at nothing; slugs are rendered at read time.

Derived statuses (one rule, used by every read):
- a service's status in one container is the worst of its seeded status (``container_statuses`` on
  create/update) and the effect of every active notice that affects that (service, container) pair:
  an open incident gives its severity (``minor`` or ``major``), a maintenance inside its window gives
  ``maintenance``; info notices change nothing;
- a service's ``status`` is the worst over its containers (ok < maintenance < minor < major);
- a page's ``current_status`` is ``unavailable`` when anything is ``major``, ``degraded`` when anything is
  ``minor``, and ``operational`` otherwise. Planned maintenance alone keeps the page ``operational``: it is
  announced work, not an outage, and the page shows the maintenance notice itself.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

RANK = {"ok": 0, "maintenance": 1, "minor": 2, "major": 3}

NOTIFICATION_DEFAULTS = {"email_enabled": True, "slack_enabled": False, "rss_feed_enabled": True}

# Crockford base32, lower case, as TypeIDs use.
_B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and whole seconds, the one timestamp format the sandbox emits."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_typeid(prefix: str) -> str:
    """A TypeID-like id: ``<prefix>_`` + 26 base32 chars of a UUIDv7 (time-ordered, 128 bits)."""
    ms = int(time.time() * 1000)
    value = (ms & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    chars = []
    for _ in range(26):  # 130 bits: the first char carries 3 bits and is always 0-7, as TypeID requires
        chars.append(_B32[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def new_webhook_secret() -> str:
    return "whs_" + secrets.token_urlsafe(32)


@dataclass
class Container:
    id: str
    slug: str
    name: str
    created_at: str
    updated_at: str


@dataclass
class Service:
    id: str
    slug: str
    name: str
    description: str | None
    order: int
    created_at: str
    updated_at: str
    # Seeded status per container id; containers not listed are "ok".
    seeded: dict[str, str] = field(default_factory=dict)


@dataclass
class Notice:
    id: str
    title: str
    notice_type: str
    severity: str | None
    starts_at: str | None
    ends_at: str | None
    # service id -> container ids affected
    affected: dict[str, list[str]]
    updates: list[dict[str, Any]]
    created_at: str
    updated_at: str
    resolved_at: str | None = None
    closed_at: str | None = None

    def state(self, now: datetime) -> str:
        # An end time in the past ends any notice: that is how a StatusPal that resolves and closes by
        # PATCHing ends_at works (otherwise only maintenance and resolved incidents carry one).
        ended = bool(self.ends_at and parse_iso(self.ends_at) <= now)
        if self.notice_type == "incident":
            return "resolved" if self.resolved_at or ended else "open"
        if self.notice_type == "maintenance":
            if self.closed_at or ended:
                return "completed"
            if self.starts_at and parse_iso(self.starts_at) <= now:
                return "in_progress"
            return "scheduled"
        return "closed" if self.closed_at or ended else "open"

    def effect(self, now: datetime) -> str | None:
        """The status this notice imposes on what it affects right now, or None."""
        state = self.state(now)
        if self.notice_type == "incident" and state == "open":
            return self.severity or "minor"
        if self.notice_type == "maintenance" and state == "in_progress":
            return "maintenance"
        return None


@dataclass
class StatusPage:
    id: str
    subdomain: str
    name: str
    timezone: str
    website_url: str
    require_authentication: bool
    notification_settings: dict[str, bool]
    created_at: str
    updated_at: str
    containers: dict[str, Container] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)

    def container_by_slug(self, slug: str) -> Container | None:
        return next((c for c in self.containers.values() if c.slug == slug), None)

    def service_by_slug(self, slug: str) -> Service | None:
        return next((s for s in self.services.values() if s.slug == slug), None)

    def effects(self, now: datetime) -> dict[tuple[str, str], str]:
        """(service id, container id) -> worst status imposed by active notices."""
        out: dict[tuple[str, str], str] = {}
        for notice in self.notices.values():
            effect = notice.effect(now)
            if effect is None:
                continue
            for service_id, container_ids in notice.affected.items():
                for container_id in container_ids:
                    key = (service_id, container_id)
                    out[key] = worst(out.get(key, "ok"), effect)
        return out

    def cell_status(self, service: Service, container_id: str, effects: dict[tuple[str, str], str]) -> str:
        return worst(service.seeded.get(container_id, "ok"), effects.get((service.id, container_id), "ok"))

    def service_status(self, service: Service, effects: dict[tuple[str, str], str]) -> str:
        status = "ok"
        for container_id in self.containers:
            status = worst(status, self.cell_status(service, container_id, effects))
        return status

    def current_status(self, now: datetime) -> str:
        effects = self.effects(now)
        status = "ok"
        for service in self.services.values():
            status = worst(status, self.service_status(service, effects))
        # An open incident that names no service still degrades the page.
        for notice in self.notices.values():
            effect = notice.effect(now)
            if effect and notice.notice_type == "incident" and not notice.affected:
                status = worst(status, effect)
        return {"major": "unavailable", "minor": "degraded"}.get(status, "operational")


@dataclass
class Webhook:
    id: str
    name: str
    url: str
    events: list[str]
    enabled: bool
    all_status_pages: bool
    status_page_subdomains: list[str]
    created_at: str
    updated_at: str
    last_triggered_at: str | None = None
    last_attempted_at: str | None = None
    # The signing secret is deliberately not stored: the sandbox never delivers events, so keeping it
    # would only put a secret into the persistence file.


@dataclass
class Organization:
    """Everything one API key can see. Keyed by a SHA-256 of the key, so no raw key is kept or persisted."""

    key_hash: str
    revoked: bool = False
    pages: dict[str, StatusPage] = field(default_factory=dict)  # by subdomain
    webhooks: dict[str, Webhook] = field(default_factory=dict)  # by id


def worst(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def dump_orgs(orgs: dict[str, Organization]) -> dict[str, Any]:
    return {"version": 1, "organizations": [asdict(org) for org in orgs.values()]}


def load_orgs(raw: dict[str, Any]) -> dict[str, Organization]:
    """Rebuild the organizations from `dump_orgs` output (raises KeyError/TypeError on a malformed file)."""
    orgs: dict[str, Organization] = {}
    for o in raw["organizations"]:
        pages = {}
        for subdomain, p in o["pages"].items():
            page = StatusPage(**{k: v for k, v in p.items() if k not in ("containers", "services", "notices")})
            page.containers = {k: Container(**v) for k, v in p["containers"].items()}
            page.services = {k: Service(**v) for k, v in p["services"].items()}
            page.notices = {k: Notice(**v) for k, v in p["notices"].items()}
            pages[subdomain] = page
        webhooks = {k: Webhook(**v) for k, v in o["webhooks"].items()}
        orgs[o["key_hash"]] = Organization(key_hash=o["key_hash"], revoked=o["revoked"], pages=pages, webhooks=webhooks)
    return orgs
