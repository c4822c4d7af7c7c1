"""Services of a status page, with their derived status per container."""

from __future__ import annotations

from typing import Any

from gateway.statuspal.endpoints import SERVICE_STATUSES
from sandbox.call import Call, Handler, find_page, paginate
from sandbox.models import Service, StatusPage, new_uuid
from sandbox.validate import MISSING, Fields, found, refuse_taken, slugify, unique_slug


def _service(page: StatusPage, call: Call) -> Service:
    return found(page.service_by_slug(call.params["slug"]))


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


def sorted_services(page: StatusPage) -> list[Service]:
    """The page's services in the order StatusPal lists them: by `order`, then oldest first."""
    return sorted(page.services.values(), key=lambda s: (s.order, s.created_at))


def _service_fields(page: StatusPage, f: Fields, creating: bool, service: Service | None = None) -> dict[str, Any]:
    values = {
        "name": f.string("name", required=creating),
        "slug": f.slug("slug"),
        "description": f.string("description", nullable=True, max_length=2000),
        "order": f.integer("order", minimum=1),
    }
    refuse_taken(f, "slug", values["slug"], [s.slug for s in page.services.values() if s is not service])
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
    page = find_page(call)
    effects = page.effects(call.now)
    return paginate(call, sorted_services(page), lambda s: render_service(page, s, effects))


def services_get(call: Call) -> dict[str, Any]:
    page = find_page(call)
    return render_service(page, _service(page, call), page.effects(call.now))


def services_create(call: Call) -> dict[str, Any]:
    page = find_page(call)
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
    page = find_page(call)
    service = _service(page, call)
    values = _service_fields(page, call.fields(), creating=False, service=service)
    if "container_statuses" in values:
        service.seeded.update(values.pop("container_statuses"))
    for key, value in values.items():
        setattr(service, key, value)
    service.updated_at = call.stamp
    return render_service(page, service, page.effects(call.now))


def services_delete(call: Call) -> None:
    page = find_page(call)
    service = _service(page, call)
    del page.services[service.id]
    for notice in page.notices.values():
        notice.affected.pop(service.id, None)


HANDLERS: dict[str, Handler] = {
    "services_list": services_list,
    "services_get": services_get,
    "services_create": services_create,
    "services_update": services_update,
    "services_delete": services_delete,
}
