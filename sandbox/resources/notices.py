"""Notices (incidents, maintenance, info) and their updates.

Notices are served in whatever shape the NoticeWire mapping describes (field names, affected shape,
org-scoped routes, ending by an action or by PATCHing ends_at), so a test can run the gateway against a
StatusPal that differs from today's guess. Internally a notice keeps one fixed model; only the edges change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.statuspal.notice_wire import NOTICE_STATES
from sandbox.call import Call, Handler, find_page, paginate
from sandbox.models import Notice, StatusPage, new_uuid, parse_iso
from sandbox.validate import MISSING, Fields, found, invalid, not_found

NOTICE_TYPES = ("incident", "maintenance", "info")
SEVERITIES = ("minor", "major")


def _notice_page(call: Call) -> StatusPage:
    """The page of a notices call: from the path, else the mapping's page field, else (by id) the notice's own."""
    if "subdomain" in call.params:
        return find_page(call)
    name = call.wire.page_field
    given = call.query.get(name) if call.endpoint.method in ("GET", "DELETE") else call.body.get(name)
    if given is not None:
        return found(call.org.pages.get(str(given)))
    notice_id = call.params.get("notice_id")
    if notice_id is None:
        raise invalid({name: ["can't be blank"]})
    for page in call.org.pages.values():
        if notice_id in page.notices:
            return page
    raise not_found()


def _notice(page: StatusPage, call: Call) -> Notice:
    return found(page.notices.get(call.params["notice_id"]))


def _state_word(call: Call, notice: Notice) -> str:
    """The notice's state in this StatusPal's words: the first word the mapping gives that state."""
    state = notice.state(call.now)
    return call.wire.state_words(notice.notice_type, state)[0]


def _time(call: Call, page: StatusPage, value: str | None) -> str | None:
    """A stored UTC time as this StatusPal writes it: with `Z`, or without an offset in UTC or the page's zone."""
    naive = call.wire.naive_times
    if value is None or naive == "none":
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    zone = ZoneInfo(page.timezone) if naive == "page" else UTC
    return moment.astimezone(zone).replace(tzinfo=None).isoformat()


def render_notice(call: Call, page: StatusPage, notice: Notice) -> dict[str, Any]:
    w = call.wire
    # Services and regions by slug, or by id when this StatusPal names them so (affected_ref = "id").
    by_id = w.affected_ref == "id"
    refs = {
        (service_id if by_id else page.services[service_id].slug): [
            cid if by_id else c.slug for cid, c in page.containers.items() if cid in container_ids
        ]
        for service_id, container_ids in notice.affected.items()
    }
    affected: Any
    if w.affected_shape == "objects":
        affected = [{w.affected_service_key: ref, w.affected_containers_key: cs} for ref, cs in refs.items()]
    elif w.affected_shape == "map":
        affected = refs
    else:
        affected = list(refs)
    updates = [
        {"id": u["id"], w.update_text_key: u["message"], w.update_notify_key: u["notified"],
         "posted_at": _time(call, page, u["posted_at"])}
        for u in notice.updates
    ]
    return {
        w.id_field: notice.id,
        w.title_field: notice.title,
        w.type_field: notice.notice_type,
        w.severity_field: notice.severity,
        w.state_field: _state_word(call, notice),
        w.starts_at_field: _time(call, page, notice.starts_at),
        w.ends_at_field: _time(call, page, notice.ends_at),
        w.affected_field: affected,
        w.updates_field: updates,
        "resolved_at": _time(call, page, notice.resolved_at),
        "closed_at": _time(call, page, notice.closed_at),
        "created_at": _time(call, page, notice.created_at),
        "updated_at": _time(call, page, notice.updated_at),
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
    by_id = w.affected_ref == "id"
    out: dict[str, list[str]] = {}
    for service_slug, container_slugs in wanted:
        service = page.services.get(str(service_slug)) if by_id else page.service_by_slug(str(service_slug))
        if service is None:
            f.add(name, f"unknown {service_label} {service_slug!r}")
            continue
        ids = list(page.containers) if container_slugs is None else []
        for slug in container_slugs or ():
            container = page.containers.get(str(slug)) if by_id else page.container_by_slug(str(slug))
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
    word = call.query.get(w.state_field)
    if word is not None:
        # Strict refuses a word it does not speak; lenient plays Rails' `where(state: word)`: nothing matches.
        known = _words(call)
        if word not in known and call.strict:
            errors[w.state_field] = [f"is not included in the list ({', '.join(known)})"]
        notices = [n for n in notices if word in w.state_words(n.notice_type, n.state(call.now))]
    if errors:
        raise invalid(errors)
    return paginate(call, notices, lambda n: render_notice(call, page, n))


def _words(call: Call) -> list[str]:
    """Every state word this StatusPal knows, for its 422 on another one."""
    return list(dict.fromkeys(w for k, states in NOTICE_STATES.items() for s in states for w in call.wire.state_words(k, s)))


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
        f.add(call.wire.state_field, f"is already {_state_word(call, notice)}")
    f.check()
    setattr(notice, attr, call.stamp)
    # Ending a notice ends it now: a maintenance closed early (or cancelled) ends when it is closed.
    if notice.ends_at is None or parse_iso(notice.ends_at) > call.now:
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


HANDLERS: dict[str, Handler] = {
    "notices_list": notices_list,
    "notices_get": notices_get,
    "notices_create": notices_create,
    "notices_update": notices_update,
    "notices_post_update": notices_post_update,
    "notices_resolve": notices_resolve,
    "notices_close": notices_close,
    "notices_delete": notices_delete,
}
