"""One handler per endpoint of the table, keyed by endpoint name.

A handler gets a `Call` (the caller's organization, path parameters, body, query) and returns the
`data` to send (or a full `{data, meta}` envelope for lists, or None for 204). The HTTP layer in
`sandbox.app` picks the status from the endpoint table, so the table stays the one source of truth for
paths, methods and success codes; this module only knows what each operation does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from gateway.statuspal.endpoints import MAX_PER_PAGE, SERVICE_STATUSES, WEBHOOK_EVENTS, Endpoint
from gateway.statuspal.notice_wire import NoticeWire
from sandbox.models import (
    NOTIFICATION_DEFAULTS,
    Container,
    Notice,
    Organization,
    Service,
    StatusPage,
    Webhook,
    iso,
    new_typeid,
    new_uuid,
    new_webhook_secret,
    parse_iso,
)
from sandbox.validate import MISSING, SUBDOMAIN, Fields, invalid, not_found, slugify, unique_slug

DEFAULT_PER_PAGE = 20
NOTICE_TYPES = ("incident", "maintenance", "info")
SEVERITIES = ("minor", "major")
NOTICE_STATES = ("open", "resolved", "scheduled", "in_progress", "completed", "closed")


@dataclass
class Call:
    org: Organization
    params: Mapping[str, str]
    body: dict[str, Any]
    query: Mapping[str, str]
    endpoint: Endpoint
    now: datetime
    # Every organization: subdomains are host names, so they are unique across all of StatusPal.
    orgs: Iterable[Organization]
    # The names and shapes notices are served in (the same mapping the gateway reads).
    wire: NoticeWire
    # False: unknown body keys are dropped silently, as a Rails server does, instead of a 422.
    strict: bool = True

    @property
    def stamp(self) -> str:
        return iso(self.now)

    def fields(self) -> Fields:
        return Fields(self.body, self.endpoint.body_fields, strict=self.strict)


Handler = Callable[[Call], Any]


# ---------------------------------------------------------------- helpers


def paginate(call: Call, items: list[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    page = _positive_int(call.query, "page", 1, errors)
    per_page = _positive_int(call.query, "per_page", DEFAULT_PER_PAGE, errors)
    if per_page > MAX_PER_PAGE:
        errors.setdefault("per_page", []).append(f"must be less than or equal to {MAX_PER_PAGE}")
    if errors:
        raise invalid(errors)
    start = (page - 1) * per_page
    return {
        "data": [render(item) for item in items[start : start + per_page]],
        "meta": {
            "current_page": page,
            "per_page": per_page,
            "total_count": len(items),
            "total_pages": math.ceil(len(items) / per_page),
        },
    }


def _positive_int(query: Mapping[str, str], name: str, default: int, errors: dict[str, list[str]]) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        errors.setdefault(name, []).append("must be an integer greater than or equal to 1")
        return default
    return int(text)


def _page(call: Call) -> StatusPage:
    page = call.org.pages.get(call.params["subdomain"])
    if page is None:
        raise not_found()
    return page


def _service(page: StatusPage, call: Call) -> Service:
    service = page.service_by_slug(call.params["slug"])
    if service is None:
        raise not_found()
    return service


def _container(page: StatusPage, call: Call) -> Container:
    container = page.container_by_slug(call.params["slug"])
    if container is None:
        raise not_found()
    return container


def _notice(page: StatusPage, call: Call) -> Notice:
    notice = page.notices.get(call.params["notice_id"])
    if notice is None:
        raise not_found()
    return notice


def _webhook(call: Call) -> Webhook:
    webhook = call.org.webhooks.get(call.params["webhook_id"])
    if webhook is None:
        raise not_found()
    return webhook


# ---------------------------------------------------------------- status pages


def render_page(page: StatusPage, now: datetime) -> dict[str, Any]:
    return {
        "id": page.id,
        "subdomain": page.subdomain,
        "name": page.name,
        "timezone": page.timezone,
        "website_url": page.website_url,
        "current_status": page.current_status(now),
        "require_authentication": page.require_authentication,
        "notification_settings": dict(page.notification_settings),
        "created_at": page.created_at,
        "updated_at": page.updated_at,
    }


def _page_fields(call: Call, f: Fields, creating: bool, page: StatusPage | None = None) -> dict[str, Any]:
    values = {
        "name": f.string("name", required=creating),
        "subdomain": f.slug("subdomain", SUBDOMAIN, required=creating),
        "timezone": f.timezone("timezone", required=creating),
        "website_url": f.url("website_url", required=creating),
        "require_authentication": f.boolean("require_authentication"),
    }
    settings = f.object("notification_settings")
    if settings is not MISSING:
        merged = dict(page.notification_settings if page else NOTIFICATION_DEFAULTS)
        for key, value in settings.items():
            if key not in NOTIFICATION_DEFAULTS:
                f.add("notification_settings", f"{key} is not a known setting ({', '.join(NOTIFICATION_DEFAULTS)})")
            elif not isinstance(value, bool):
                f.add("notification_settings", f"{key} must be true or false")
            else:
                merged[key] = value
        values["notification_settings"] = merged
    subdomain = values["subdomain"]
    if subdomain is not MISSING and (page is None or subdomain != page.subdomain):
        if any(subdomain in org.pages for org in call.orgs):
            f.add("subdomain", "has already been taken")
    f.check()
    return {k: v for k, v in values.items() if v is not MISSING}


def status_pages_list(call: Call) -> dict[str, Any]:
    return paginate(call, list(call.org.pages.values()), lambda p: render_page(p, call.now))


def status_pages_get(call: Call) -> dict[str, Any]:
    return render_page(_page(call), call.now)


def status_pages_create(call: Call) -> dict[str, Any]:
    values = _page_fields(call, call.fields(), creating=True)
    page = StatusPage(
        id=new_uuid(),
        subdomain=values["subdomain"],
        name=values["name"],
        timezone=values["timezone"],
        website_url=values["website_url"],
        require_authentication=values.get("require_authentication", False),
        notification_settings=values.get("notification_settings", dict(NOTIFICATION_DEFAULTS)),
        created_at=call.stamp,
        updated_at=call.stamp,
    )
    default = Container(id=new_uuid(), slug="default", name="Default", created_at=call.stamp, updated_at=call.stamp)
    page.containers[default.id] = default
    call.org.pages[page.subdomain] = page
    return render_page(page, call.now)


def status_pages_update(call: Call) -> dict[str, Any]:
    page = _page(call)
    values = _page_fields(call, call.fields(), creating=False, page=page)
    old = page.subdomain
    for key, value in values.items():
        setattr(page, key, value)
    page.updated_at = call.stamp
    if page.subdomain != old:
        call.org.pages = {(page.subdomain if k == old else k): v for k, v in call.org.pages.items()}
        for webhook in call.org.webhooks.values():
            webhook.status_page_subdomains = [page.subdomain if s == old else s for s in webhook.status_page_subdomains]
    return render_page(page, call.now)


def status_pages_delete(call: Call) -> None:
    page = _page(call)
    del call.org.pages[page.subdomain]
    for webhook in call.org.webhooks.values():
        webhook.status_page_subdomains = [s for s in webhook.status_page_subdomains if s != page.subdomain]


# ---------------------------------------------------------------- services


def render_service(page: StatusPage, service: Service, effects: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        "id": service.id,
        "slug": service.slug,
        "name": service.name,
        "description": service.description,
        "order": service.order,
        "status": page.service_status(service, effects),
        "container_statuses": [
            {"container_slug": c.slug, "status": page.cell_status(service, c.id, effects)} for c in page.containers.values()
        ],
        "created_at": service.created_at,
        "updated_at": service.updated_at,
    }


def _sorted_services(page: StatusPage) -> list[Service]:
    return sorted(page.services.values(), key=lambda s: (s.order, s.created_at))


def _service_fields(page: StatusPage, f: Fields, creating: bool, service: Service | None = None) -> dict[str, Any]:
    values = {
        "name": f.string("name", required=creating),
        "slug": f.slug("slug"),
        "description": f.string("description", nullable=True, max_length=2000),
        "order": f.integer("order", minimum=1),
    }
    others = [s.slug for s in page.services.values() if s is not service]
    if values["slug"] is not MISSING and values["slug"] in others:
        f.add("slug", "has already been taken")
    statuses = f.objects("container_statuses")
    if statuses is not MISSING:
        seeded: dict[str, str] = {}
        for item in statuses:
            container = page.container_by_slug(str(item.get("container_slug", "")))
            status = item.get("status")
            if container is None:
                f.add("container_statuses", f"unknown container_slug {item.get('container_slug')!r}")
            elif status not in SERVICE_STATUSES:
                f.add("container_statuses", f"status must be one of {', '.join(SERVICE_STATUSES)}")
            else:
                seeded[container.id] = status
        values["container_statuses"] = seeded
    f.check()
    return {k: v for k, v in values.items() if v is not MISSING}


def services_list(call: Call) -> dict[str, Any]:
    page = _page(call)
    effects = page.effects(call.now)
    return paginate(call, _sorted_services(page), lambda s: render_service(page, s, effects))


def services_get(call: Call) -> dict[str, Any]:
    page = _page(call)
    return render_service(page, _service(page, call), page.effects(call.now))


def services_create(call: Call) -> dict[str, Any]:
    page = _page(call)
    values = _service_fields(page, call.fields(), creating=True)
    taken = [s.slug for s in page.services.values()]
    service = Service(
        id=new_uuid(),
        slug=values.get("slug") or unique_slug(slugify(values["name"], "service"), taken),
        name=values["name"],
        description=values.get("description"),
        order=values.get("order", max((s.order for s in page.services.values()), default=0) + 1),
        created_at=call.stamp,
        updated_at=call.stamp,
        seeded=values.get("container_statuses", {}),
    )
    page.services[service.id] = service
    return render_service(page, service, page.effects(call.now))


def services_update(call: Call) -> dict[str, Any]:
    page = _page(call)
    service = _service(page, call)
    values = _service_fields(page, call.fields(), creating=False, service=service)
    if "container_statuses" in values:
        service.seeded.update(values.pop("container_statuses"))
    for key, value in values.items():
        setattr(service, key, value)
    service.updated_at = call.stamp
    return render_service(page, service, page.effects(call.now))


def services_delete(call: Call) -> None:
    page = _page(call)
    service = _service(page, call)
    del page.services[service.id]
    for notice in page.notices.values():
        notice.affected.pop(service.id, None)


# ---------------------------------------------------------------- containers


def render_container(page: StatusPage, container: Container, effects: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        "id": container.id,
        "slug": container.slug,
        "name": container.name,
        # Every service belongs to every container (StatusPal manages the services x containers grid).
        "services": [
            {"slug": s.slug, "name": s.name, "status": page.cell_status(s, container.id, effects)}
            for s in _sorted_services(page)
        ],
        "created_at": container.created_at,
        "updated_at": container.updated_at,
    }


def _container_fields(page: StatusPage, f: Fields, creating: bool, container: Container | None = None) -> dict[str, Any]:
    values = {"name": f.string("name", required=creating), "slug": f.slug("slug")}
    others = [c.slug for c in page.containers.values() if c is not container]
    if values["slug"] is not MISSING and values["slug"] in others:
        f.add("slug", "has already been taken")
    f.check()
    return {k: v for k, v in values.items() if v is not MISSING}


def containers_list(call: Call) -> dict[str, Any]:
    page = _page(call)
    effects = page.effects(call.now)
    return paginate(call, list(page.containers.values()), lambda c: render_container(page, c, effects))


def containers_get(call: Call) -> dict[str, Any]:
    page = _page(call)
    return render_container(page, _container(page, call), page.effects(call.now))


def containers_create(call: Call) -> dict[str, Any]:
    page = _page(call)
    values = _container_fields(page, call.fields(), creating=True)
    taken = [c.slug for c in page.containers.values()]
    container = Container(
        id=new_uuid(),
        slug=values.get("slug") or unique_slug(slugify(values["name"], "container"), taken),
        name=values["name"],
        created_at=call.stamp,
        updated_at=call.stamp,
    )
    page.containers[container.id] = container
    return render_container(page, container, page.effects(call.now))


def containers_update(call: Call) -> dict[str, Any]:
    page = _page(call)
    container = _container(page, call)
    for key, value in _container_fields(page, call.fields(), creating=False, container=container).items():
        setattr(container, key, value)
    container.updated_at = call.stamp
    return render_container(page, container, page.effects(call.now))


def containers_delete(call: Call) -> None:
    page = _page(call)
    container = _container(page, call)
    if len(page.containers) == 1:
        raise invalid({"base": ["a status page keeps at least one container; create another before deleting this one"]})
    del page.containers[container.id]
    for service in page.services.values():
        service.seeded.pop(container.id, None)
    for notice in page.notices.values():
        for service_id in list(notice.affected):
            notice.affected[service_id] = [c for c in notice.affected[service_id] if c != container.id]
            if not notice.affected[service_id]:
                del notice.affected[service_id]


# ---------------------------------------------------------------- notices
#
# Notices are served in whatever shape the NoticeWire mapping describes (field names, affected shape,
# org-scoped routes, ending by an action or by PATCHing ends_at), so a test can run the gateway against a
# StatusPal that differs from today's guess. Internally a notice keeps one fixed model; only the edges change.


def _notice_page(call: Call) -> StatusPage:
    """The page of a notices call: from the path, else the mapping's page field, else (by id) the notice's own."""
    if "subdomain" in call.params:
        return _page(call)
    name = call.wire.page_field
    given = call.query.get(name) if call.endpoint.method in ("GET", "DELETE") else call.body.get(name)
    if given is not None:
        page = call.org.pages.get(str(given))
        if page is None:
            raise not_found()
        return page
    notice_id = call.params.get("notice_id")
    if notice_id is None:
        raise invalid({name: ["can't be blank"]})
    for page in call.org.pages.values():
        if notice_id in page.notices:
            return page
    raise not_found()


def render_notice(call: Call, page: StatusPage, notice: Notice) -> dict[str, Any]:
    w = call.wire
    slugs = {
        service_id: [c.slug for cid, c in page.containers.items() if cid in container_ids]
        for service_id, container_ids in notice.affected.items()
    }
    affected: Any
    if w.affected_shape == "objects":
        affected = [
            {w.affected_service_key: page.services[sid].slug, w.affected_containers_key: cs} for sid, cs in slugs.items()
        ]
    elif w.affected_shape == "map":
        affected = {page.services[sid].slug: cs for sid, cs in slugs.items()}
    else:
        affected = [page.services[sid].slug for sid in slugs]
    updates = [
        {"id": u["id"], w.update_text_key: u["message"], w.update_notify_key: u["notified"], "posted_at": u["posted_at"]}
        for u in notice.updates
    ]
    return {
        w.id_field: notice.id,
        w.title_field: notice.title,
        w.type_field: notice.notice_type,
        w.severity_field: notice.severity,
        w.state_field: notice.state(call.now),
        w.starts_at_field: notice.starts_at,
        w.ends_at_field: notice.ends_at,
        w.affected_field: affected,
        w.updates_field: updates,
        "resolved_at": notice.resolved_at,
        "closed_at": notice.closed_at,
        "created_at": notice.created_at,
        "updated_at": notice.updated_at,
    }


def _affected(call: Call, page: StatusPage, f: Fields) -> Any:
    """The affected services in the mapping's shape -> {service id: [container ids]}; no regions = all."""
    w = call.wire
    name = w.affected_field
    if not f.given(name):
        return MISSING
    value = f.body[name]
    wanted: list[tuple[Any, Any]] = []  # (service slug, container slugs or None for all)
    if w.affected_shape == "objects":
        items = f.objects(name)
        if items is MISSING:
            return MISSING
        for item in items:
            slugs = item.get(w.affected_containers_key)
            if slugs is not None and (not isinstance(slugs, list) or not slugs):
                f.add(name, f"{w.affected_containers_key} must be a non-empty array (omit it for all containers)")
                continue
            wanted.append((item.get(w.affected_service_key, ""), slugs))
    elif w.affected_shape == "map":
        if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
            f.add(name, "must be an object of service slug -> array of container slugs")
            return MISSING
        wanted = [(slug, containers or None) for slug, containers in value.items()]
    else:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            f.add(name, "must be an array of service slugs")
            return MISSING
        wanted = [(slug, None) for slug in value]
    objects = w.affected_shape == "objects"
    service_label = w.affected_service_key if objects else "service"
    container_label = w.affected_containers_key.removesuffix("s") if objects else "container"
    out: dict[str, list[str]] = {}
    for service_slug, container_slugs in wanted:
        service = page.service_by_slug(str(service_slug))
        if service is None:
            f.add(name, f"unknown {service_label} {service_slug!r}")
            continue
        ids = list(page.containers) if container_slugs is None else []
        for slug in container_slugs or ():
            container = page.container_by_slug(str(slug))
            if container is None:
                f.add(name, f"unknown {container_label} {slug!r}")
            else:
                ids.append(container.id)
        merged = set(out.get(service.id, [])) | set(ids)
        out[service.id] = [cid for cid in page.containers if cid in merged]
    return out


def _ends_by_patch(call: Call, notice_type: str) -> bool:
    """Whether this mapping ends notices of `notice_type` by PATCHing ends_at (then they may carry one)."""
    strategy = call.wire.resolve_strategy if notice_type == "incident" else call.wire.close_strategy
    return notice_type != "maintenance" and strategy == "patch_ends_at"


def _schedule(call: Call, f: Fields, notice_type: str, severity: Any, starts_at: Any, ends_at: Any) -> None:
    """The per-type rules: severity for incidents only, a window (end after start) for maintenance only."""
    w = call.wire
    if notice_type == "incident" and severity is None:
        f.add(w.severity_field, "can't be blank for an incident (minor or major)")
    if notice_type != "incident" and severity not in (MISSING, None):
        f.add(w.severity_field, f"must be blank for a {notice_type} notice")
    if notice_type == "maintenance":
        for name, value in ((w.starts_at_field, starts_at), (w.ends_at_field, ends_at)):
            if value in (MISSING, None) and name not in f.errors:  # a malformed value is already reported
                f.add(name, "can't be blank for maintenance")
        if starts_at not in (MISSING, None) and ends_at not in (MISSING, None):
            if parse_iso(ends_at) <= parse_iso(starts_at):
                f.add(w.ends_at_field, f"must be after {w.starts_at_field}")
    elif ends_at not in (MISSING, None):
        if not _ends_by_patch(call, notice_type):
            f.add(w.ends_at_field, f"can only be set on maintenance (an {notice_type} ends when it is resolved or closed)")
        elif starts_at not in (MISSING, None) and parse_iso(ends_at) < parse_iso(starts_at):
            f.add(w.ends_at_field, f"must not be before {w.starts_at_field}")


def _update(message: str, notify: bool, stamp: str) -> dict[str, Any]:
    return {"id": new_uuid(), "message": message, "notified": notify, "posted_at": stamp}


def notices_list(call: Call) -> dict[str, Any]:
    page = _notice_page(call)
    w = call.wire
    notices = list(reversed(page.notices.values()))  # newest first
    errors: dict[str, list[str]] = {}
    kind = call.query.get(w.type_field)
    if kind is not None:
        if kind not in NOTICE_TYPES:
            errors[w.type_field] = [f"is not included in the list ({', '.join(NOTICE_TYPES)})"]
        notices = [n for n in notices if n.notice_type == kind]
    state = call.query.get(w.state_field)
    if state is not None:
        if state not in NOTICE_STATES:
            errors[w.state_field] = [f"is not included in the list ({', '.join(NOTICE_STATES)})"]
        notices = [n for n in notices if n.state(call.now) == state]
    if errors:
        raise invalid(errors)
    return paginate(call, notices, lambda n: render_notice(call, page, n))


def notices_get(call: Call) -> dict[str, Any]:
    page = _notice_page(call)
    return render_notice(call, page, _notice(page, call))


def notices_create(call: Call) -> dict[str, Any]:
    page = _notice_page(call)
    w = call.wire
    f = call.fields()
    title = f.string(w.title_field, required=True)
    notice_type = f.choice(w.type_field, NOTICE_TYPES, required=True)
    severity = f.choice(w.severity_field, SEVERITIES, nullable=True)
    starts_at = f.timestamp(w.starts_at_field)
    ends_at = f.timestamp(w.ends_at_field)
    # Lenient plays the likely Rails server: a notice without a first text or a notify choice is accepted
    # (nothing marks them required), which is exactly how a misnamed field would go unnoticed.
    message = f.string(w.text_field, required=call.strict, max_length=10000)
    affected = _affected(call, page, f)
    notify = f.boolean(w.notify_field, required=call.strict)
    if notice_type is not MISSING:
        _schedule(call, f, notice_type, None if severity is MISSING else severity, starts_at, ends_at)
    f.check()
    notice = Notice(
        id=new_uuid(),
        title=title,
        notice_type=notice_type,
        severity=None if severity is MISSING else severity,
        starts_at=call.stamp if starts_at is MISSING else starts_at,
        ends_at=None if ends_at is MISSING else ends_at,
        affected={} if affected is MISSING else affected,
        updates=[] if message is MISSING else [_update(message, notify is True, call.stamp)],
        created_at=call.stamp,
        updated_at=call.stamp,
    )
    page.notices[notice.id] = notice
    return render_notice(call, page, notice)


def notices_update(call: Call) -> dict[str, Any]:
    page = _notice_page(call)
    notice = _notice(page, call)
    w = call.wire
    f = call.fields()
    values = {
        "title": f.string(w.title_field),
        "severity": f.choice(w.severity_field, SEVERITIES, nullable=True),
        "starts_at": f.timestamp(w.starts_at_field),
        "ends_at": f.timestamp(w.ends_at_field),
        "affected": _affected(call, page, f),
    }
    merged = {k: getattr(notice, k) if v is MISSING else v for k, v in values.items()}
    # A resolved incident carries the ends_at that resolve set; only a caller-given ends_at is checked.
    ends_at = merged["ends_at"] if notice.notice_type == "maintenance" or f.given(w.ends_at_field) else MISSING
    _schedule(call, f, notice.notice_type, merged["severity"], merged["starts_at"], ends_at)
    f.check()
    for key, value in values.items():
        if value is not MISSING:
            setattr(notice, key, value)
    notice.updated_at = call.stamp
    return render_notice(call, page, notice)


def notices_post_update(call: Call) -> dict[str, Any]:
    page = _notice_page(call)
    notice = _notice(page, call)
    f = call.fields()
    message = f.string(call.wire.text_field, required=True, max_length=10000)
    notify = f.boolean(call.wire.notify_field, required=call.strict)
    f.check()
    notice.updates.append(_update(message, notify is True, call.stamp))
    notice.updated_at = call.stamp
    return render_notice(call, page, notice)


def _finish(call: Call, page: StatusPage, notice: Notice, verb: str, allowed: bool, done_state: str, attr: str) -> dict[str, Any]:
    f = call.fields()
    message = f.string(call.wire.text_field, nullable=True, max_length=10000)
    notify = f.boolean(call.wire.notify_field, required=call.strict)
    if not allowed:
        hint = "resolve incidents, close maintenance and info notices"
        f.add(call.wire.type_field, f"a {notice.notice_type} notice cannot be {verb} ({hint})")
    elif notice.state(call.now) == done_state:
        f.add(call.wire.state_field, f"is already {done_state}")
    f.check()
    setattr(notice, attr, call.stamp)
    if notice.notice_type == "incident":
        notice.ends_at = call.stamp
    if message not in (MISSING, None):
        notice.updates.append(_update(message, notify is True, call.stamp))
    notice.updated_at = call.stamp
    return render_notice(call, page, notice)


def notices_resolve(call: Call) -> dict[str, Any]:
    page = _notice_page(call)
    notice = _notice(page, call)
    return _finish(call, page, notice, "resolved", notice.notice_type == "incident", "resolved", "resolved_at")


def notices_close(call: Call) -> dict[str, Any]:
    """Close ends maintenance early (or cancels it before it starts); info notices close the same way."""
    page = _notice_page(call)
    notice = _notice(page, call)
    done = "completed" if notice.notice_type == "maintenance" else "closed"
    return _finish(call, page, notice, "closed", notice.notice_type != "incident", done, "closed_at")


def notices_delete(call: Call) -> None:
    page = _notice_page(call)
    del page.notices[_notice(page, call).id]


# ---------------------------------------------------------------- outgoing webhooks


def render_webhook(webhook: Webhook, secret: str | None = None) -> dict[str, Any]:
    """The webhook as the API shows it; `secret` only on create and regenerate_secret answers."""
    data: dict[str, Any] = {
        "id": webhook.id,
        "name": webhook.name,
        "url": webhook.url,
        "events": list(webhook.events),
        "enabled": webhook.enabled,
        "all_status_pages": webhook.all_status_pages,
        "last_triggered_at": webhook.last_triggered_at,
        "last_attempted_at": webhook.last_attempted_at,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }
    if not webhook.all_status_pages:  # StatusPal returns the scope only when the webhook is scoped
        data["status_page_subdomains"] = list(webhook.status_page_subdomains)
    if secret is not None:
        data["secret"] = secret
    return data


def _webhook_fields(call: Call, f: Fields, creating: bool, webhook: Webhook | None = None) -> dict[str, Any]:
    values = {
        "name": f.string("name", required=creating),
        "url": f.url("url", required=creating, https_only=True),
        "events": f.string_list("events", required=creating),
        "enabled": f.boolean("enabled"),
        "all_status_pages": f.boolean("all_status_pages"),
        "status_page_subdomains": f.string_list("status_page_subdomains"),
    }
    events = values["events"]
    if events is not MISSING:
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown:
            f.add("events", f"unknown event(s) {', '.join(unknown)}; choose from {', '.join(WEBHOOK_EVENTS)}")
        elif not events:
            f.add("events", "must list at least one event")
    all_pages = values["all_status_pages"]
    if all_pages is MISSING:
        all_pages = webhook.all_status_pages if webhook else True
    subdomains = values["status_page_subdomains"]
    if all_pages:
        # A webhook for all pages also covers pages created later; the server clears any explicit scope.
        values["status_page_subdomains"] = []
    else:
        if subdomains is MISSING:
            subdomains = webhook.status_page_subdomains if webhook else []
        if not subdomains:
            f.add("status_page_subdomains", "can't be blank when all_status_pages is false")
        for subdomain in subdomains:
            if subdomain not in call.org.pages:
                f.add("status_page_subdomains", f"unknown status page {subdomain!r}")
        values["status_page_subdomains"] = subdomains
    f.check()
    return {k: v for k, v in values.items() if v is not MISSING}


def webhooks_list(call: Call) -> dict[str, Any]:
    return paginate(call, list(call.org.webhooks.values()), render_webhook)


def webhooks_get(call: Call) -> dict[str, Any]:
    return render_webhook(_webhook(call))


def webhooks_create(call: Call) -> dict[str, Any]:
    values = _webhook_fields(call, call.fields(), creating=True)
    webhook = Webhook(
        id=new_typeid("wbk"),
        name=values["name"],
        url=values["url"],
        events=values["events"],
        enabled=values.get("enabled", True),
        all_status_pages=values.get("all_status_pages", True),
        status_page_subdomains=values["status_page_subdomains"],
        created_at=call.stamp,
        updated_at=call.stamp,
    )
    call.org.webhooks[webhook.id] = webhook
    return render_webhook(webhook, secret=new_webhook_secret())


def webhooks_update(call: Call) -> dict[str, Any]:
    webhook = _webhook(call)
    for key, value in _webhook_fields(call, call.fields(), creating=False, webhook=webhook).items():
        setattr(webhook, key, value)
    webhook.updated_at = call.stamp
    return render_webhook(webhook)


def webhooks_rotate_secret(call: Call) -> dict[str, Any]:
    webhook = _webhook(call)
    call.fields().check()  # no body fields: anything sent is refused
    webhook.updated_at = call.stamp
    return render_webhook(webhook, secret=new_webhook_secret())


def webhooks_delete(call: Call) -> None:
    del call.org.webhooks[_webhook(call).id]


HANDLERS: dict[str, Handler] = {
    name: globals()[name]
    for name in (
        "status_pages_list status_pages_get status_pages_create status_pages_update status_pages_delete "
        "services_list services_get services_create services_update services_delete "
        "containers_list containers_get containers_create containers_update containers_delete "
        "notices_list notices_get notices_create notices_update notices_post_update notices_resolve "
        "notices_close notices_delete "
        "webhooks_list webhooks_get webhooks_create webhooks_update webhooks_rotate_secret webhooks_delete"
    ).split()
}
