"""How a notice travels on the wire: field names and shapes in both directions, as plain data.

No public source shows StatusPal Next's notices API, and StatusPal is a Rails application, which by default
drops a body key it does not know without any error. A wrong field name therefore does not fail: it makes a
notice with no affected services, no text or an unread notify choice. So every name and shape the gateway
sends or reads for a notice is a setting (`[statuspal.notices]` in config.toml), and exactly two functions
cross the boundary: `NoticeWire.body` turns the gateway's logical fields into a request body (`NoticeWire.request` adds
the page an org-scoped route needs), and
`NoticeWire.read` turns an answer into the logical `NoticeRecord`. Nothing else in the gateway knows a wire
name, so correcting one is a configuration change, and a later check can compare what was asked with what
StatusPal applied in one vocabulary.

The tools speak one vocabulary of notice states (`NOTICE_STATES`); which wire word(s) StatusPal uses for
each is configuration too (`state_<type>_<state>`, several words allowed), and a word the mapping does not
know is read as no state at all, with the word kept beside it, never guessed.

Services and regions are referred to by slug, as every confirmed StatusPal Next endpoint does, unless
`affected_ref = "id"`: both functions then translate through `AffectedRefs`, the page's slug <-> id
tables, so the tools still speak slugs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, tzinfo
from typing import Any

# How the affected services travel:
#   objects: [{"service_slug": "api", "container_slugs": ["eu"]}]  (keys configurable; no list = every region)
#   map:     {"api": ["eu"]}                                        (an empty list = every region)
#   list:    ["api"]                                                (services only: every region, always)
AFFECTED_SHAPES = ("objects", "map", "list")
# How resolve_incident and close_maintenance end a notice:
#   action:        the dedicated endpoint (notices_resolve / notices_close) with the closing text and notify
#   patch_ends_at: notices_update with ends_at = now, then the closing text (if any) through notices_post_update
END_STRATEGIES = ("action", "patch_ends_at")
# How a time without a UTC offset is read: "none" (not at all: a write showing one is not confirmed, and the
# error says to set this), "utc", or "page" (the page's time zone).
NAIVE_TIMES = ("none", "utc", "page")
# How the affected services and regions are named on the wire: by slug, or by their id.
AFFECTED_REFS = ("slug", "id")
# The states the tools speak, per notice type: the only words a model ever sees in `state`.
NOTICE_STATES: dict[str, tuple[str, ...]] = {
    "incident": ("open", "resolved"),
    "maintenance": ("scheduled", "in_progress", "completed"),
    "info": ("open", "closed"),
}
# (notice type, state) -> the NoticeWire attribute holding its wire word(s), comma-separated.
STATE_KEYS = {(kind, state): f"state_{kind}_{state}" for kind, states in NOTICE_STATES.items() for state in states}
ALL_STATES = tuple(dict.fromkeys(state for states in NOTICE_STATES.values() for state in states))

# Logical request fields -> the NoticeWire attribute naming them on the wire.
REQUEST_FIELDS = {
    "title": "title_field",
    "notice_type": "type_field",
    "severity": "severity_field",
    "starts_at": "starts_at_field",
    "ends_at": "ends_at_field",
    "message": "text_field",
    "notify": "notify_field",
    "affected": "affected_field",
}
# The logical fields each notices endpoint takes in its body.
ENDPOINT_FIELDS: dict[str, tuple[str, ...]] = {
    "notices_create": ("title", "notice_type", "severity", "starts_at", "ends_at", "message", "affected", "notify"),
    "notices_update": ("title", "severity", "starts_at", "ends_at", "affected"),
    "notices_post_update": ("message", "notify"),
    "notices_resolve": ("message", "notify"),
    "notices_close": ("message", "notify"),
}
# Answer fields the record keeps as they are (not part of the mapping: informative only).
_PASSED_THROUGH = ("resolved_at", "closed_at", "created_at", "updated_at")


class WireShapeError(ValueError):
    """A request the configured shape cannot express; the text says what to change."""


@dataclass(frozen=True)
class AffectedRefs:
    """One page's services and regions, slug -> id, for a StatusPal that names them by id on the wire."""

    services: Mapping[str, str]
    containers: Mapping[str, str]

    def to_ids(self, entries: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The tools' entries with ids in place of slugs; a slug the page does not have is refused by name."""
        unknown = [e["service_slug"] for e in entries if e["service_slug"] not in self.services]
        unknown += [c for e in entries for c in e.get("container_slugs") or () if c not in self.containers]
        if unknown:
            raise WireShapeError(
                f"no service or region with the slug {', '.join(map(repr, unknown))} on this page. Valid: service "
                f"slugs {', '.join(self.services) or '(none)'}; region slugs {', '.join(self.containers) or '(none)'}."
            )
        return [
            {"service_slug": self.services[e["service_slug"]],
             **({"container_slugs": [self.containers[c] for c in e["container_slugs"]]} if e.get("container_slugs") else {})}
            for e in entries
        ]

    def to_slugs(self, affected: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """Ids read back as slugs; an id the page does not list (made since the lookup) is kept as it is."""
        services, containers = self._by_id
        return {services.get(s, s): tuple(containers.get(c, c) for c in cs) for s, cs in affected.items()}

    @functools.cached_property
    def _by_id(self) -> tuple[dict[str, str], dict[str, str]]:
        """Both tables inverted, once: every notice of a list is read back through them."""
        return {v: k for k, v in self.services.items()}, {v: k for k, v in self.containers.items()}


@dataclass(frozen=True)
class NoticeUpdate:
    """One timeline entry as read back: its text, and whether StatusPal says subscribers were notified."""

    message: str | None
    notified: bool | None
    posted_at: str | None


@dataclass(frozen=True)
class NoticeRecord:
    """A notice in the gateway's own vocabulary, whatever the wire called things.

    A field is None when the answer did not carry it (or carried something unreadable); `present` names the
    logical fields that were there, so "StatusPal dropped it" (present, empty) and "the answer does not show
    it" (absent) stay distinguishable. `affected` maps a service slug to its region (container) slugs.
    """

    id: str | None = None
    title: str | None = None
    notice_type: str | None = None
    severity: str | None = None
    # One of NOTICE_STATES, or None when StatusPal's word is not mapped (then `wire_state` holds it).
    state: str | None = None
    wire_state: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    affected: Mapping[str, tuple[str, ...]] | None = None
    updates: tuple[NoticeUpdate, ...] | None = None
    present: frozenset[str] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_output(self, zone: tzinfo | None = None) -> dict[str, Any]:
        """The tool result (the NOTICE output schema): absent fields are left out, never invented. A time
        StatusPal wrote without an offset gets the offset of `zone` (naive_times), its wall time unchanged:
        the tools promise times with an offset, and only configuration says which one it is."""
        out: dict[str, Any] = {}
        for name in ("id", "title", "notice_type"):
            value = getattr(self, name)
            if isinstance(value, str):
                out[name] = value
        if "state" in self.present:
            out["state"] = self.state
            if self.wire_state is not None:
                out["wire_state"] = self.wire_state
        for name in ("severity", "starts_at", "ends_at"):
            if name in self.present and (getattr(self, name) is None or isinstance(getattr(self, name), str)):
                out[name] = getattr(self, name)
        if self.affected is not None:
            # No regions named reads as "every region", as in the tools' input (an empty list would read as none).
            out["affected"] = [
                {"service_slug": service, **({"container_slugs": list(containers)} if containers else {})}
                for service, containers in self.affected.items()
            ]
        if self.updates is not None:
            out["updates"] = [
                {k: v for k, v in (("message", u.message), ("notified", u.notified), ("posted_at", u.posted_at)) if v is not None}
                for u in self.updates
            ]
        out.update(self.extra)
        if zone is not None:
            for name in ("starts_at", "ends_at", *_PASSED_THROUGH):
                if name in out:
                    out[name] = _with_offset(out[name], zone)
            for update in out.get("updates", ()):
                if "posted_at" in update:
                    update["posted_at"] = _with_offset(update["posted_at"], zone)
        return out


@dataclass(frozen=True)
class NoticeWire:
    """The names and shapes of a notice on the wire. Defaults are today's best guess (nothing confirmed)."""

    # Where the page's subdomain goes when a notices path has no {subdomain} (org-scoped routes): a query
    # parameter on GET and DELETE, a body field otherwise.
    page_field: str = "status_page_subdomain"
    title_field: str = "title"
    type_field: str = "notice_type"
    severity_field: str = "severity"
    starts_at_field: str = "starts_at"
    ends_at_field: str = "ends_at"
    # The first timeline text on create, and the text of every later update (and of a closing one).
    text_field: str = "message"
    notify_field: str = "notify"
    affected_field: str = "affected"
    affected_shape: str = "objects"
    # Item keys of the "objects" shape.
    affected_service_key: str = "service_slug"
    affected_containers_key: str = "container_slugs"
    # Answer-only fields.
    id_field: str = "id"
    state_field: str = "state"
    updates_field: str = "updates"
    update_text_key: str = "message"
    update_notify_key: str = "notified"
    resolve_strategy: str = "action"
    close_strategy: str = "action"
    naive_times: str = "none"
    affected_ref: str = "slug"
    # The wire word(s) of each state the tools speak, comma-separated (STATE_KEYS).
    state_incident_open: str = "open"
    state_incident_resolved: str = "resolved"
    state_maintenance_scheduled: str = "scheduled"
    state_maintenance_in_progress: str = "in_progress"
    state_maintenance_completed: str = "completed"
    state_info_open: str = "open"
    state_info_closed: str = "closed"

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    # ------------------------------------------------------------------ states

    def state_words(self, kind: str, state: str) -> tuple[str, ...]:
        """The wire words of one state of one notice type; the first is the one a StatusPal most likely uses."""
        return self._words.get((kind, state), ())

    @functools.cached_property
    def _words(self) -> dict[tuple[str, str], tuple[str, ...]]:
        # The settings are frozen, and every notice a list reads asks: split them once.
        return {pair: state_words(getattr(self, key)) for pair, key in STATE_KEYS.items()}

    def filter_words(self, state: str, kind: str | None = None) -> tuple[str, ...]:
        """Every wire word a list filter on `state` must ask for (of one notice type, or of all)."""
        kinds = (kind,) if kind else tuple(NOTICE_STATES)
        return tuple(dict.fromkeys(w for k in kinds for w in self.state_words(k, state)))

    def state_of(self, kind: str | None, word: str) -> str | None:
        """The state a wire word means for this notice type; without a known type, the one state every type
        that knows the word agrees on. None when no state (or no single one) has that word."""
        kinds = (kind,) if kind in NOTICE_STATES else tuple(NOTICE_STATES)
        found = {s for (k, s) in STATE_KEYS if k in kinds and word in self.state_words(k, s)}
        return found.pop() if len(found) == 1 else None

    def wire_name(self, logical: str) -> str:
        return getattr(self, REQUEST_FIELDS[logical])

    def body_fields(self, endpoint: str, org_scoped: bool) -> tuple[str, ...]:
        """The wire names `endpoint` may carry in its body (the client and the strict sandbox hold to them)."""
        names = tuple(self.wire_name(n) for n in ENDPOINT_FIELDS.get(endpoint, ()))
        return names + (self.page_field,) if org_scoped and names else names

    def unused_endpoints(self) -> frozenset[str]:
        """Action endpoints a `patch_ends_at` strategy never calls (the sandbox then does not serve them)."""
        unused = set()
        if self.resolve_strategy == "patch_ends_at":
            unused.add("notices_resolve")
        if self.close_strategy == "patch_ends_at":
            unused.add("notices_close")
        return frozenset(unused)

    # ------------------------------------------------------------------ logical -> wire

    def body(self, logical: Mapping[str, Any], refs: AffectedRefs | None = None) -> dict[str, Any]:
        """The request body for the logical fields given (only those: a PATCH must not touch the others).
        With affected_ref = "id", `refs` (the page's ids) is required to send affected services."""
        out: dict[str, Any] = {}
        for name, value in logical.items():
            if name == "affected":
                if self.affected_ref == "id":
                    if refs is None:
                        raise ValueError("affected_ref = \"id\" needs the page's ids to send affected services")
                    value = refs.to_ids(value)
                value = self._affected_out(value)
            out[self.wire_name(name)] = value
        return out

    def request(
        self, method: str, org_scoped: bool, page: str, logical: Mapping[str, Any] | None, refs: AffectedRefs | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(body, query) of one notices call, built once here so the tools and check-api send the same.

        GET and DELETE carry no body. An org-scoped route has no `{subdomain}` in its path, so the page
        travels under `page_field`: in the query when there is no body, in the body otherwise."""
        body = None if method in ("GET", "DELETE") else self.body(logical or {}, refs)
        if body is None:
            return None, self.page_query(org_scoped, page) or None
        if org_scoped:
            body[self.page_field] = page
        return body, None

    def page_query(self, org_scoped: bool, page: str) -> dict[str, str]:
        """What names the page in the query of a notices call: nothing on a route under the page's path."""
        return {self.page_field: page} if org_scoped else {}

    def _affected_out(self, entries: list[Mapping[str, Any]]) -> Any:
        if self.affected_shape == "objects":
            items = []
            for entry in entries:
                item = {self.affected_service_key: entry["service_slug"]}
                if entry.get("container_slugs"):
                    item[self.affected_containers_key] = list(entry["container_slugs"])
                items.append(item)
            return items
        if self.affected_shape == "map":
            merged: dict[str, list[str]] = {}
            for entry in entries:
                merged.setdefault(entry["service_slug"], []).extend(entry.get("container_slugs") or [])
            return merged
        narrowed = [e["service_slug"] for e in entries if e.get("container_slugs")]
        if narrowed:
            raise WireShapeError(
                f"this StatusPal takes affected services as a plain list (statuspal.notices.affected_shape = "
                f"\"list\"), which cannot name regions: {', '.join(narrowed)} would be marked affected in every "
                "region. Leave out container_slugs to affect every region, or correct the shape in config."
            )
        return list(dict.fromkeys(e["service_slug"] for e in entries))

    # ------------------------------------------------------------------ wire -> logical

    def read(self, data: Any, refs: AffectedRefs | None = None) -> NoticeRecord:
        """The logical record of one notice as StatusPal answered it (with affected_ref = "id", its ids read
        back as slugs through `refs`; without them, left as ids)."""
        if not isinstance(data, Mapping):
            return NoticeRecord()
        values: dict[str, Any] = {}
        present: set[str] = set()
        plain = {
            "id": self.id_field,
            "title": self.title_field,
            "notice_type": self.type_field,
            "severity": self.severity_field,
            "state": self.state_field,
            "starts_at": self.starts_at_field,
            "ends_at": self.ends_at_field,
        }
        for name, wire in plain.items():
            if wire in data:
                present.add(name)
                value = data[wire]
                values[name] = value if value is None or isinstance(value, str) else str(value)
        if values.get("state") is not None:
            word = values["state"]
            values["state"] = self.state_of(values.get("notice_type"), word)
            if values["state"] is None:
                values["wire_state"] = word
        if self.affected_field in data:
            affected = self._affected_in(data[self.affected_field])
            if affected is not None and refs is not None and self.affected_ref == "id":
                affected = refs.to_slugs(affected)
            if affected is not None:
                present.add("affected")
                values["affected"] = affected
        if self.updates_field in data and isinstance(data[self.updates_field], list):
            present.add("updates")
            values["updates"] = tuple(self._update_in(u) for u in data[self.updates_field] if isinstance(u, Mapping))
        extra = {k: data[k] for k in _PASSED_THROUGH if k in data and (data[k] is None or isinstance(data[k], str))}
        return NoticeRecord(**values, present=frozenset(present), extra=extra)

    def _affected_in(self, value: Any) -> dict[str, tuple[str, ...]] | None:
        """The answer's affected services, or None when they are not in the configured shape."""
        if self.affected_shape == "objects" and isinstance(value, list):
            out: dict[str, tuple[str, ...]] = {}
            for item in value:
                if isinstance(item, Mapping) and isinstance(item.get(self.affected_service_key), str):
                    out[item[self.affected_service_key]] = _strings(item.get(self.affected_containers_key))
            return out
        if self.affected_shape == "map" and isinstance(value, Mapping):
            return {str(k): _strings(v) for k, v in value.items()}
        if self.affected_shape == "list" and isinstance(value, list):
            return {str(v): () for v in value if isinstance(v, str)}
        return None

    def _update_in(self, item: Mapping[str, Any]) -> NoticeUpdate:
        text = item.get(self.update_text_key)
        notified = item.get(self.update_notify_key)
        posted = item.get("posted_at")
        return NoticeUpdate(
            message=text if isinstance(text, str) else None,
            notified=notified if isinstance(notified, bool) else None,
            posted_at=posted if isinstance(posted, str) else None,
        )


def _with_offset(value: Any, zone: tzinfo) -> Any:
    """An ISO 8601 time without an offset, given `zone`'s; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.replace(tzinfo=zone).isoformat() if moment.tzinfo is None else value


def state_words(text: str) -> tuple[str, ...]:
    """The words of one `state_<type>_<state>` setting: comma-separated, surrounding white space ignored."""
    return tuple(w.strip() for w in text.split(",") if w.strip())


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()
