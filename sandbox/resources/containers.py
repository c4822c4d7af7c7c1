"""Containers (regions) of a status page; every service appears in every container."""

from __future__ import annotations

from typing import Any

from sandbox.call import Call, Handler, find_page, paginate
from sandbox.models import Container, StatusPage, new_uuid
from sandbox.resources.services import sorted_services
from sandbox.validate import MISSING, Fields, found, invalid, refuse_taken, slugify, unique_slug


def _container(page: StatusPage, call: Call) -> Container:
    return found(page.container_by_slug(call.params["slug"]))


def render_container(page: StatusPage, container: Container, effects: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        "id": container.id,
        "slug": container.slug,
        "name": container.name,
        # Every service belongs to every container (StatusPal manages the services x containers grid).
        "services": [
            {"slug": s.slug, "name": s.name, "status": page.cell_status(s, container.id, effects)}
            for s in sorted_services(page)
        ],
        "created_at": container.created_at,
        "updated_at": container.updated_at,
    }


def _container_fields(page: StatusPage, f: Fields, creating: bool, container: Container | None = None) -> dict[str, Any]:
    values = {"name": f.string("name", required=creating), "slug": f.slug("slug")}
    refuse_taken(f, "slug", values["slug"], [c.slug for c in page.containers.values() if c is not container])
    f.check()
    return {k: v for k, v in values.items() if v is not MISSING}


def containers_list(call: Call) -> dict[str, Any]:
    page = find_page(call)
    effects = page.effects(call.now)
    return paginate(call, list(page.containers.values()), lambda c: render_container(page, c, effects))


def containers_get(call: Call) -> dict[str, Any]:
    page = find_page(call)
    return render_container(page, _container(page, call), page.effects(call.now))


def containers_create(call: Call) -> dict[str, Any]:
    page = find_page(call)
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
    page = find_page(call)
    container = _container(page, call)
    for key, value in _container_fields(page, call.fields(), creating=False, container=container).items():
        setattr(container, key, value)
    container.updated_at = call.stamp
    return render_container(page, container, page.effects(call.now))


def containers_delete(call: Call) -> None:
    page = find_page(call)
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


HANDLERS: dict[str, Handler] = {
    "containers_list": containers_list,
    "containers_get": containers_get,
    "containers_create": containers_create,
    "containers_update": containers_update,
    "containers_delete": containers_delete,
}
