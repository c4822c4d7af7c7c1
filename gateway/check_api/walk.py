"""The check's walk: every endpoint of the table exercised on the check's one page, each write read back, and
what the check made deleted again by the identifiers it tracked."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from gateway.check_api.report import ERROR, IGNORED, LACKS, NOT_RUN, OK, ROUTE_MISSING, SKIPPED, Fix, Report, Row, excerpt, failure_verdict
from gateway.statuspal.client import StatusPalAPI, UpstreamResult
from gateway.statuspal.endpoints import EndpointTable
from gateway.statuspal.errors import UpstreamError
from gateway.statuspal.notice_wire import REQUEST_FIELDS, STATE_KEYS, AffectedRefs, NoticeWire, WireShapeError
from gateway.tools import clock
from gateway.tools.notice_checks import Ending, is_naive, load_refs, naive_zone, notice_write, same_instant
from gateway.tools.verify import Write, compare, field_check, judge

UNROUTABLE_URL = "https://statuspal-mcp-check.invalid/webhook"
# The zone of a page the check creates: away from UTC, without daylight saving, so a time StatusPal writes
# without an offset shows which zone it is in (naive_times "utc" or "page").
PAGE_TIMEZONE = "Asia/Kolkata"
# A made-up notice id, for asking whether a route exists when no real notice could be made.
PROBE_ID = "00000000-0000-4000-8000-000000000000"

# Logical notice fields -> the [statuspal.notices] key naming them, for the config hints.
NOTICE_KEYS = {**REQUEST_FIELDS, "updates": "updates_field", "state": "state_field", "id": "id_field"}
# Words an answer key for a logical field most likely contains, to suggest a name from the answer's keys.
_LIKELY_WORDS = {
    "title": ("title", "name", "subject"),
    "notice_type": ("type", "kind"),
    "severity": ("severity", "impact"),
    "starts_at": ("start", "begin"),
    "ends_at": ("end",),
    "affected": ("affected", "components"),
    "message": ("message", "description", "body", "text", "content"),
    "updates": ("update", "timeline", "entries"),
    "notify": ("notif",),
    "state": ("state", "status"),
}


# ---------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- the walk


@dataclass
class _Made:
    """Something the check created (or may have created), and how to delete it."""

    label: str
    endpoint: str
    params: dict[str, str]
    query: dict[str, str] | None = None
    # Confirm the delete with this GET (a 404 record-not-found means it is gone).
    get: str | None = None
    # The create's answer was lost: it may or may not exist; find it by the run's marker.
    find: Callable[[], Awaitable[list[_Made]]] | None = None
    # StatusPal's answer showed it exists (False while its create is in flight or its answer was lost).
    confirmed: bool = True


class Checker:
    """Walks the table once against one page, recording a Row per endpoint and the config it can infer."""

    def __init__(self, api: StatusPalAPI, table: EndpointTable, *, subdomain: str | None, create_page: bool,
                 skip_page_endpoints: bool = False, post_notices: bool = True) -> None:
        self.api = api
        self.table = table
        self.wire: NoticeWire = table.notices
        self.marker = f"spmcp-check-{secrets.token_hex(3)}"
        self.page = subdomain or self.marker
        self.create_page = create_page
        self.skip_page_endpoints = skip_page_endpoints
        # False on a given page that may have subscribers until the notify field is confirmed (command.py).
        self.post_notices = post_notices
        self.rows = {e.name: Row(e.name, e.method, e.path) for e in table}
        patch = table["notices_update"]
        for action, key in (("notices_resolve", "resolve_strategy"), ("notices_close", "close_strategy")):
            if getattr(self.wire, key) == "patch_ends_at":  # this action is a PATCH of ends_at, as `serve` does it
                self.rows[action].method, self.rows[action].path = patch.method, f"{patch.path} ({key} = patch_ends_at)"
        self.fixes: dict[tuple[str, str], Fix] = {}
        self.notes: list[str] = []
        # Notes on a notices key whose right value is unknown, by key; dropped when a later step found the value.
        self.field_notes: dict[str, str] = {}
        self.made: list[_Made] = []
        self.deleted: list[str] = []
        self.left_behind: list[str] = []
        self.interrupted = False
        # The page's time zone, and the zone a time without an offset is read in as configured (naive_times).
        self.page_timezone: str | None = None
        self.zone: tzinfo | None = naive_zone(self.wire)
        # A notify: false StatusPal did not echo: nothing shows whether subscribers were told.
        self.notify_unconfirmed = False
        # The slug and id of the service and region the check made ("services"/"containers" -> (slug, id)), and
        # the page's slug <-> id tables once notices name them by id (affected_ref = "id").
        self.ids: dict[str, tuple[str, str]] = {}
        self.refs: AffectedRefs | None = None

    # -------------------------------------------------------------- bookkeeping

    def row(self, name: str) -> Row:
        return self.rows[name]

    def fix(self, section: str, key: str, value: str, reason: str, *, placeholder: bool = False) -> None:
        self.fixes.setdefault((section, key), Fix(section, key, value, reason, placeholder))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def report(self, base_url: str) -> Report:
        self.suggest_routes()
        notes = [text for key, text in self.field_notes.items() if ("statuspal.notices", key) not in self.fixes]
        return Report(
            base_url, self.page, self.create_page, list(self.rows.values()), list(self.fixes.values()), notes + self.notes,
            self.deleted, self.left_behind, self.interrupted, self.notify_unconfirmed,
        )

    async def call(self, name: str, params: Mapping[str, Any] | None = None, *, body: Mapping[str, Any] | None = None,
                   query: Mapping[str, Any] | None = None) -> UpstreamResult:
        return await self.api.call(name, params, body=body, query=query)

    async def attempt(self, name: str, call: Awaitable[UpstreamResult], what: str = "") -> UpstreamResult | None:
        """Await one call; on failure record the verdict on `name` and return None."""
        try:
            return await call
        except UpstreamError as err:
            verdict, evidence = failure_verdict(err)
            self.row(name).record(verdict, f"{what}: {evidence}" if what else evidence)
            if err.outcome_unknown:
                self.note(f"{name}: the answer was lost, so it is unknown whether it took effect ({what or name}).")
            return None

    async def create(self, name: str, params: Mapping[str, Any] | None, body: Mapping[str, Any], made: _Made) -> UpstreamResult | None:
        """A create under an identifier of this run (a page subdomain, a slug), tracked for cleanup before it is
        sent: if its answer is lost, or the walk is interrupted while it is in flight, it may still have been
        made, and the identifier finds it. A create refused for certain made nothing and is not tracked, so a
        page or slug that turned out to be someone else's is never deleted."""
        made.confirmed = False
        self.made.append(made)
        try:
            result = await self.call(name, params, body=body)
            made.confirmed = True
            return result
        except UpstreamError as err:
            verdict, evidence = failure_verdict(err)
            self.row(name).record(verdict, evidence)
            if err.outcome_unknown:
                self.note(f"{name}: the answer was lost, so it is unknown whether {made.label} was made; cleanup deletes it if so.")
            else:
                self.made.remove(made)
            return None

    async def verified(self, name: str, get: str | None, params: Mapping[str, Any], asked: Mapping[str, Any],
                       result: UpstreamResult, what: str) -> Any:
        """Record the verdict of a write to a confirmed resource as the tools reach theirs (`field_check`,
        `judge`): its answer, then one GET for what it lacks."""
        data = result.data if isinstance(result.data, Mapping) else {}
        reread = None
        if get is not None:
            async def reread() -> Mapping[str, Any]:
                fresh = (await self.call(get, params)).data
                return fresh if isinstance(fresh, Mapping) else {}
        write = Write(what, tuple(field_check(k, k, v, k) for k, v in asked.items()), "", reread=reread)
        evidence = []
        try:
            outcome, data = await judge(write, data)
        except UpstreamError as err:
            outcome = compare(write.checks, data)
            evidence.append(f"the read to confirm {', '.join(c.name for c in outcome.unconfirmed)} failed: "
                            f"{failure_verdict(err)[1]}")
        ignored = [c.name for c, _ in outcome.ignored]
        lacking = [c.name for c in outcome.unconfirmed]
        for check, value in outcome.ignored:
            evidence.append(f"{what}: sent {check.name} = {excerpt(check.asked)}, StatusPal has {excerpt(value)}")
        if lacking:
            evidence.append(f"{what}: neither the answer nor a GET shows {', '.join(lacking)}; it carries {excerpt(sorted(data), 200)}")
        verdict = IGNORED if ignored else LACKS if lacking else OK
        self.row(name).record(verdict, "; ".join(evidence), ignored=ignored, lacking=lacking)
        return data

    def listed(self, name: str, items: list[Any], key: str, value: str, what: str) -> None:
        found = any(isinstance(i, Mapping) and i.get(key) == value for i in items)
        if found:
            self.row(name).record(OK)
        else:
            self.row(name).record(LACKS, f"{what} ({key} {value!r}) is not among the {len(items)} items listed", lacking=[what])

    # -------------------------------------------------------------- the walk

    async def walk(self) -> None:
        if not await self.page_step():
            return
        container = await self.container_step()
        service = await self.service_step()
        if self.post_notices:
            await self.notices_step(service, container)
        else:
            for name in self.rows:
                if name.startswith("notices_"):
                    self.row(name).record(SKIPPED, (
                        f"not run on page {self.page!r}: it may have subscribers, and a notify field this StatusPal "
                        "does not read would email them. Confirm the field with --notify-field NAME (a --create-page "
                        "run checks notices on a page without subscribers), or pass --i-have-no-subscribers"))
        await self.webhook_step()

    async def page_step(self) -> bool:
        table_params = {"subdomain": self.page}
        if self.create_page:
            asked = {"name": f"statuspal-mcp check-api {self.marker} (safe to delete)", "subdomain": self.page,
                     "timezone": PAGE_TIMEZONE, "website_url": "https://example.com"}
            made = _Made(f"status page {self.page!r}", "status_pages_delete", table_params, get="status_pages_get")
            result = await self.create("status_pages_create", None, asked, made)
            if result is None:
                return False
            await self.verified("status_pages_create", "status_pages_get", table_params, asked, result, "page")
        else:
            for name in ("status_pages_create", "status_pages_delete"):
                self.row(name).record(SKIPPED, "--subdomain: the check uses the given page and never creates or deletes a "
                                               "page" + ("" if self.skip_page_endpoints else
                                                         "; unproven, so not ok (accept with --skip-page-endpoints)"))
                self.row(name).excused = self.skip_page_endpoints
        got = await self.attempt("status_pages_get", self.call("status_pages_get", table_params))
        if got is None:
            return False
        current = got.data if isinstance(got.data, Mapping) else {}
        if isinstance(current.get("timezone"), str):
            self.page_timezone = current["timezone"]
            self.zone = naive_zone(self.wire, self.page_timezone)
        self.row("status_pages_get").record(OK if current.get("subdomain") == self.page else LACKS,
                                            "" if current.get("subdomain") == self.page else f"the answer does not show subdomain {self.page!r}",
                                            lacking=[] if current.get("subdomain") == self.page else ["subdomain"])
        listed = await self.attempt("status_pages_list", self.api.list_all("status_pages_list"))
        if listed is not None:
            self.listed("status_pages_list", listed.data, "subdomain", self.page, "the check page")
        # With --subdomain the name is written back unchanged, so the page shows nothing new.
        current_name = current.get("name")
        name = current_name if not self.create_page and isinstance(current_name, str) else f"statuspal-mcp check-api {self.marker} (renamed)"
        updated = await self.attempt("status_pages_update", self.call("status_pages_update", table_params, body={"name": name}))
        if updated is not None:
            await self.verified("status_pages_update", "status_pages_get", table_params, {"name": name}, updated, "page")
        return True

    async def _crud(self, kind: str, asked: dict[str, Any], change: dict[str, Any]) -> str | None:
        """Create, get, list, update one service or container under a slug of this run; its delete is cleanup's."""
        slug = asked["slug"]
        params = {"subdomain": self.page, "slug": slug}
        noun = kind[:-1]
        made = _Made(f"{noun} {slug!r}", f"{kind}_delete", params, get=f"{kind}_get")
        result = await self.create(f"{kind}_create", {"subdomain": self.page}, asked, made)
        if result is None:
            return None
        if isinstance(result.data, Mapping) and isinstance(result.data.get("id"), str):
            self.ids[kind] = (slug, result.data["id"])
        await self.verified(f"{kind}_create", f"{kind}_get", params, asked, result, noun)
        got = await self.attempt(f"{kind}_get", self.call(f"{kind}_get", params))
        if got is not None:
            await self.verified(f"{kind}_get", None, params, {"slug": slug, "name": asked["name"]}, got, noun)
        listed = await self.attempt(f"{kind}_list", self.api.list_all(f"{kind}_list", {"subdomain": self.page}))
        if listed is not None:
            self.listed(f"{kind}_list", listed.data, "slug", slug, f"the {noun} just created")
        updated = await self.attempt(f"{kind}_update", self.call(f"{kind}_update", params, body=change))
        if updated is not None:
            await self.verified(f"{kind}_update", f"{kind}_get", params, change, updated, noun)
        return slug

    async def container_step(self) -> str | None:
        # Containers first: StatusPal builds the services x containers grid from what exists at create time.
        slug = f"{self.marker}-region"
        return await self._crud("containers", {"name": f"Check region {self.marker}", "slug": slug},
                                {"name": f"Check region {self.marker} (renamed)"})

    async def service_step(self) -> str | None:
        slug = f"{self.marker}-service"
        return await self._crud("services", {"name": f"Check service {self.marker}", "slug": slug,
                                             "description": "Made by statuspal-mcp check-api; safe to delete."},
                                {"description": "Made by statuspal-mcp check-api (updated); safe to delete."})

    # -------------------------------------------------------------- notices

    def _notice_request(self, name: str, notice_id: str | None, logical: Mapping[str, Any] | None) -> tuple[dict, dict | None, dict | None]:
        """(path params, body, query) exactly as the notice tools build them for this mapping."""
        endpoint = self.table[name]
        params = {"subdomain": self.page}
        if notice_id is not None:
            params["notice_id"] = notice_id
        body, query = self.wire.request(endpoint.method, endpoint.org_scoped, self.page, logical, self.refs)
        return params, body, query

    async def notice_call(self, name: str, notice_id: str | None, logical: Mapping[str, Any] | None = None) -> UpstreamResult:
        params, body, query = self._notice_request(name, notice_id, logical)
        return await self.call(name, params, body=body, query=query)

    def _affected(self, service: str | None, container: str | None) -> list[dict[str, Any]] | None:
        if service is None:
            return None
        if container is None or self.wire.affected_shape == "list":
            # A plain list cannot name regions: the service is affected everywhere, which is all this shape can say.
            return [{"service_slug": service}]
        return [{"service_slug": service, "container_slugs": [container]}]

    async def notices_step(self, service: str | None, container: str | None) -> None:
        """Every state a notice passes through, each read back: an incident opened, edited, updated and
        resolved; a maintenance scheduled, moved to start now and closed; an info notice published and closed."""
        affected = self._affected(service, container)
        if self.wire.affected_ref == "id":
            try:
                self.refs = await load_refs(self.api, self.page)
            except UpstreamError as err:
                self.note(f"affected_ref = \"id\": the page's services and regions could not be read to send ids "
                          f"({failure_verdict(err)[1]})")
        now = _now()
        incident = {"title": f"Check incident {self.marker}", "notice_type": "incident", "severity": "minor",
                    "message": f"Check incident opened ({self.marker}).", "notify": False}
        maintenance = {"title": f"Check maintenance {self.marker}", "notice_type": "maintenance",
                       "starts_at": _iso(now + timedelta(hours=1)), "ends_at": _iso(now + timedelta(hours=2)),
                       "message": f"Check maintenance announced ({self.marker}).", "notify": False}
        info = {"title": f"Check info {self.marker}", "notice_type": "info",
                "message": f"Check info notice ({self.marker}).", "notify": False}
        if affected is not None:
            incident["affected"] = maintenance["affected"] = affected
        incident_id = await self.create_notice(incident, "incident", "open")
        if incident_id is None:
            await self.probe_notice_routes()
            return
        await self.read_notice(incident_id, incident)
        await self.list_notices(incident_id)
        await self.update_notice(incident_id, "incident", {"title": f"Check incident {self.marker} (edited)"})
        await self.post_update(incident_id)
        await self.end_notice(incident_id, "incident", "resolve_strategy", "notices_resolve")
        maintenance_id = await self.create_notice(maintenance, "maintenance", "scheduled")
        if maintenance_id is not None:
            started = await self.update_notice(maintenance_id, "maintenance", {"starts_at": _iso(now - timedelta(minutes=2))})
            if started is not None:
                self.observe_state("notices_update", "maintenance", "in_progress", started)
            await self.end_notice(maintenance_id, "maintenance", "close_strategy", "notices_close")
        info_id = await self.create_notice(info, "info notice", "open")
        if info_id is not None:
            await self.end_notice(info_id, "info notice", "close_strategy", "notices_close")

    async def create_notice(self, logical: Mapping[str, Any], what: str, state: str) -> str | None:
        row = self.row("notices_create")
        title = logical["title"]
        try:
            params, body, query = self._notice_request("notices_create", None, logical)
        except WireShapeError as exc:
            row.record(ERROR, f"{what}: {exc}")
            return None
        pending = _Made(f"{what} {title!r} (if it was made)", "", {}, find=lambda: self.find_notices(title))
        self.made.append(pending)
        try:
            result = await self.call("notices_create", params, body=body, query=query)
        except UpstreamError as err:
            verdict, evidence = failure_verdict(err)
            row.record(verdict, f"{what}: {evidence}")
            self.hint_from_refusal(err, body or {})
            retried = await self.create_again(err, logical) if not err.outcome_unknown else None
            if retried is None:
                if not err.outcome_unknown:
                    self.made.remove(pending)
                return None
            result, logical = retried
        record = self.wire.read(result.data, self.refs)
        if not record.id:
            row.record(LACKS, f"{what}: the answer has no {self.wire.id_field!r}, so the notice cannot be read, "
                              f"ended or deleted; it carries {excerpt(sorted(_keys(result.data)), 200)}", lacking=["id"])
            self.hint_field("id", result.data)
            return None
        self.made.remove(pending)
        self.made.append(self.notice_made(record.id, f"{what} {record.id!r}"))
        _, data = await self.verify_notice("notices_create", record.id, logical, result.data, what)
        self.observe_state("notices_create", logical["notice_type"], state, data)
        return record.id

    async def create_again(self, err: UpstreamError, logical: Mapping[str, Any]) -> tuple[UpstreamResult, Mapping[str, Any]] | None:
        """One more create after StatusPal refused some fields, to learn what its answer alone can show.

        Refused affected services by slug, with the service and region the check made: the same notice with
        their ids in place of the slugs; if that is taken, ids are what it wants, the line is printed, and the
        rest of the walk runs as that line would make `serve` run. Fields refused by name (not permitted): the
        notice without them, so the answer shows the names this StatusPal uses instead. The create's row keeps
        the refusal, so the check still fails until the config changes. Returns the answer and what was sent."""
        if err.status != 422 or not isinstance(err.details, Mapping):
            return None
        if self.wire.affected_field in err.details and "affected" in logical and self.wire.affected_ref == "slug" \
                and len(self.ids) == 2:
            (service, service_id), (region, region_id) = self.ids["services"], self.ids["containers"]
            wire = replace(self.wire, affected_ref="id")
            endpoint = self.table["notices_create"]
            refs = AffectedRefs({service: service_id}, {region: region_id})
            body, query = wire.request(endpoint.method, endpoint.org_scoped, self.page, logical, refs)
            try:
                result = await self.call("notices_create", {"subdomain": self.page}, body=body, query=query)
            except UpstreamError:
                pass
            else:
                self.wire, self.refs = wire, await load_refs(self.api, self.page)
                self.fix("statuspal.notices", "affected_ref", "id", f"StatusPal refused the service and region by slug "
                                                                      f"({excerpt(err.details, 80)}) and took their ids")
                return result, logical
        refused = [n for n in logical if n in REQUEST_FIELDS and self.wire.wire_name(n) in err.details]
        if not refused or "title" in refused or "notice_type" in refused:
            return None
        fewer = {k: v for k, v in logical.items() if k not in refused}
        params, body, query = self._notice_request("notices_create", None, fewer)
        try:
            result = await self.call("notices_create", params, body=body, query=query)
        except UpstreamError:
            return None
        for name in refused:
            self.hint_field(name, result.data)
        return result, fewer

    def notice_made(self, notice_id: str, label: str) -> _Made:
        params, _, query = self._notice_request("notices_delete", notice_id, None)
        return _Made(label, "notices_delete", params, query, get="notices_get")

    async def find_notices(self, title: str) -> list[_Made]:
        """Notices of the check page carrying this run's unique title (a create whose answer was lost)."""
        params, _, query = self._notice_request("notices_list", None, None)
        result = await self.api.list_all("notices_list", params, query=query)
        found = []
        for item in result.data or []:
            record = self.wire.read(item)
            if record.id and record.title == title:
                found.append(self.notice_made(record.id, f"notice {record.id!r} ({title})"))
        return found

    async def verify_notice(self, name: str, notice_id: str, logical: Mapping[str, Any], answer: Any, what: str,
                            ending: Ending | None = None) -> tuple[bool, Mapping[str, Any]]:
        """The verdict of a notices write, passed by the tools' own judgement (`notice_write`, `judge`): the
        same fields, readers, time rules and state rules, its answer first, then one GET for what it lacks.
        Returns whether every field asked was applied, and the record it rests on."""

        async def read(ident: str) -> Mapping[str, Any]:
            data = (await self.notice_call("notices_get", ident)).data
            return data if isinstance(data, Mapping) else {}

        answer = answer if isinstance(answer, Mapping) else {}
        write = notice_write(self.wire, self.page, answer, logical, notice_id=notice_id, read_notice=read,
                             ending=ending, zone=self.zone, refs=self.refs)
        evidence: list[str] = []
        try:
            outcome, record = await judge(write, answer)
        except UpstreamError as err:
            outcome, record = compare(write.checks, answer), dict(answer)
            names = ", ".join(c.name for c in outcome.unconfirmed)
            evidence.append(f"the read to confirm {names} failed: {failure_verdict(err)[1]}")
        ignored = [c.name for c, _ in outcome.ignored]
        lacking = [c.name for c in outcome.unconfirmed]
        evidence += [f"sent {c.name} {c.render(c.asked)}, StatusPal has {c.render(v)}" for c, v in outcome.ignored]
        if lacking:
            evidence.append(f"neither the answer nor a GET shows {', '.join(lacking)}; the answer carries "
                            f"{_keys_evidence(record, self.wire)}")
        if any(c.name == "notify" for c in outcome.unshown):
            self.notify_unconfirmed = True
        for check, value in outcome.ignored:
            if check.name in ("starts_at", "ends_at"):
                self.infer_naive(check.asked, value)
        for field_name in (*ignored, *lacking):
            if field_name != "state":  # a state word is inferred by observe_state, from the state it should be
                self.hint_field(field_name, record)
        verdict = IGNORED if ignored else LACKS if lacking else OK
        self.row(name).record(verdict, "; ".join(f"{what}: {e}" for e in evidence), ignored=ignored, lacking=lacking)
        return outcome.ok, record

    def observe_state(self, name: str, kind: str, state: str, data: Any) -> None:
        """The wire word StatusPal shows for a notice the check knows to be in `state`: a word the mapping does
        not give that state is what the tools would answer as no state (or another one), so its line is printed.
        A StatusPal that shows no state at all is left alone: endings are then judged by ends_at."""
        word = data.get(self.wire.state_field) if isinstance(data, Mapping) else None
        if not isinstance(word, str) or word in self.wire.state_words(kind, state):
            return
        key = STATE_KEYS[kind, state]
        article = "an" if kind[0] in "aeiou" else "a"
        self.fix("statuspal.notices", key, word, f"StatusPal shows {article} {kind} that is {state} as {word!r}")
        self.row(name).record(LACKS, f"{kind}: StatusPal shows state {word!r} where the {kind} is {state}, a word "
                                     f"statuspal.notices.{key} does not give it", lacking=["state"])

    def infer_naive(self, sent: Any, shown: Any) -> None:
        """`naive_times` from a time StatusPal wrote without an offset, against the time the check sent."""
        if self.zone is not None or not is_naive(shown):
            return
        zone = clock.zone(self.page_timezone)
        as_utc = same_instant(sent, shown, UTC)
        as_page = zone is not None and same_instant(sent, shown, zone)
        if as_page and not as_utc:
            self.fix("statuspal.notices", "naive_times", "page",
                     f"StatusPal wrote {sent} as {shown}: the page's time zone ({self.page_timezone}), without an offset")
        elif as_utc:
            self.fix("statuspal.notices", "naive_times", "utc",
                     f"StatusPal wrote {sent} as {shown}: UTC without an offset"
                     + (f" (the page's zone, {self.page_timezone}, reads the same now)" if as_page else ""))
        else:
            self.note(f"naive_times: StatusPal wrote {sent} as {shown}, which is neither UTC nor the page's time "
                      f"zone ({self.page_timezone}) without an offset; set statuspal.notices.naive_times by hand.")

    async def read_notice(self, notice_id: str, logical: Mapping[str, Any]) -> None:
        got = await self.attempt("notices_get", self.notice_call("notices_get", notice_id), "incident")
        if got is None:
            return
        record = self.wire.read(got.data)
        wanted = ("id", "title", "notice_type", "state", "starts_at", "updates") + (("affected",) if "affected" in logical else ())
        lacking = [f for f in wanted if f not in record.present]
        if record.id not in (None, notice_id):
            self.row("notices_get").record(ERROR, f"asked for notice {notice_id!r}, got {record.id!r}")
        elif lacking:
            self.row("notices_get").record(LACKS, f"incident: the answer does not show {', '.join(lacking)}; it carries "
                                                  f"{_keys_evidence(got.data, self.wire)}", lacking=lacking)
            for name in lacking:
                self.hint_field(name, got.data)
        else:
            self.row("notices_get").record(OK)

    async def list_notices(self, notice_id: str) -> None:
        params, _, query = self._notice_request("notices_list", None, None)
        listed = await self.attempt("notices_list", self.api.list_all("notices_list", params, query=query), "incident")
        if listed is None:
            return
        ids = [self.wire.read(i).id for i in listed.data]
        if notice_id not in ids:
            self.row("notices_list").record(LACKS, f"the incident just made ({notice_id!r}) is not among the {len(ids)} "
                                                   f"notices listed", lacking=["the incident"])
            return
        # A filter StatusPal does not know is ignored by Rails, which then lists everything.
        filtered = await self.attempt(
            "notices_list",
            self.api.list_all("notices_list", params, query={**(query or {}), self.wire.type_field: "maintenance"}),
            "filtered by type",
        )
        if filtered is None:
            return
        if notice_id in [self.wire.read(i).id for i in filtered.data]:
            self.row("notices_list").record(
                IGNORED, f"listing with {self.wire.type_field}=maintenance still shows the incident: the filter is not "
                         f"read under that name (statuspal.notices.type_field)", ignored=[f"{self.wire.type_field} filter"])
        else:
            self.row("notices_list").record(OK)
        # The open incident under the words of its state, as list_notices asks for them (one read per word).
        for word in self.wire.filter_words("open", "incident"):
            by_state = await self.attempt("notices_list", self.api.list_all(
                "notices_list", params, query={**(query or {}), self.wire.state_field: word}), f"filtered by state {word!r}")
            if by_state is not None and notice_id in [self.wire.read(i).id for i in by_state.data]:
                return
        self.row("notices_list").record(LACKS, (
            f"listing with {self.wire.state_field} = {' or '.join(self.wire.filter_words('open', 'incident'))} does not "
            "show the open incident: statuspal.notices.state_incident_open (or state_field) is not this StatusPal's"),
            lacking=["state filter"])

    async def update_notice(self, notice_id: str, what: str, logical: Mapping[str, Any]) -> Mapping[str, Any] | None:
        result = await self.attempt("notices_update", self.notice_call("notices_update", notice_id, logical), what)
        if result is None:
            return None
        return (await self.verify_notice("notices_update", notice_id, logical, result.data, what))[1]

    async def post_update(self, notice_id: str) -> None:
        logical = {"message": f"Check timeline update ({self.marker}).", "notify": False}
        await self.send_update("notices_post_update", notice_id, logical, "incident")

    async def send_update(self, name: str, notice_id: str, logical: Mapping[str, Any], what: str) -> bool:
        try:
            result = await self.notice_call(name, notice_id, logical)
        except UpstreamError as err:
            verdict, evidence = failure_verdict(err)
            self.row(name).record(verdict, f"{what}: {evidence}")
            self.hint_from_refusal(err, self._notice_request(name, notice_id, logical)[1] or {})
            return False
        return (await self.verify_notice(name, notice_id, logical, result.data, what))[0]

    async def end_notice(self, notice_id: str, what: str, strategy_key: str, action: str) -> None:
        """Resolve or close as `serve` would; when the action route is missing, try PATCH ends_at instead."""
        row = self.row(action)
        kind = what.split()[0]
        state = {"incident": "resolved", "maintenance": "completed"}.get(kind, "closed")
        ending = Ending("resolve_incident" if kind == "incident" else "close_maintenance", (state,))
        closing = {"message": f"Check {what} ended ({self.marker}).", "notify": False}
        if getattr(self.wire, strategy_key) == "patch_ends_at":
            if not await self.patch_end(notice_id, what, action, ending, state):
                return
            posted = await self.send_update("notices_post_update", notice_id, closing, f"{what} closing text")
            row.record(OK if posted else ERROR, "" if posted else f"{what}: ended, but the closing text was not applied "
                                                                  "(see notices_post_update)")
            return
        try:
            result = await self.notice_call(action, notice_id, closing)
        except UpstreamError as err:
            verdict, evidence = failure_verdict(err)
            row.record(verdict, f"{what}: {evidence}")
            if err.route_missing and await self.patch_end(notice_id, what, action, ending, state):
                self.fix("statuspal.notices", strategy_key, "patch_ends_at",
                         f"{self.table[action].method} {self.table[action].path} answered 404 (route missing); "
                         f"PATCH {self.wire.ends_at_field} = now ended the {what}")
            else:
                self.hint_from_refusal(err, self._notice_request(action, notice_id, closing)[1] or {})
            return
        _, record = await self.verify_notice(action, notice_id, closing, result.data, what, ending)
        self.observe_state(action, kind, state, record)

    async def patch_end(self, notice_id: str, what: str, action: str, ending: Ending, state: str) -> bool:
        """PATCH ends_at = now, judged as resolve_incident / close_maintenance judge it; the verdict on `action`."""
        logical = {"ends_at": _iso(_now())}
        try:
            result = await self.notice_call("notices_update", notice_id, logical)
        except UpstreamError as err:
            verdict, evidence = failure_verdict(err)
            self.row(action).record(verdict, f"{what}, ending by PATCH {self.wire.ends_at_field}: {evidence}")
            return False
        ended, record = await self.verify_notice(action, notice_id, logical, result.data, f"{what}, ending by PATCH", ending)
        self.observe_state(action, what.split()[0], state, record)
        return ended

    async def probe_notice_routes(self) -> None:
        """No notice could be made: ask each other notices route, with a made-up id, whether it exists at all.

        Harmless on a live StatusPal: a route that exists answers 404 record-not-found for an id that does not.
        """
        for name in ("notices_list", "notices_get", "notices_update", "notices_post_update", "notices_resolve",
                     "notices_close", "notices_delete"):
            if name in self.wire.unused_endpoints():
                self.row(name).record(NOT_RUN, "no notice could be made to end by PATCH")
                continue
            bodies: dict[str, Mapping[str, Any]] = {"notices_update": {"title": "x"}, "notices_post_update": {"message": "x", "notify": False}}
            logical = bodies.get(name, {"notify": False} if name in ("notices_resolve", "notices_close") else None)
            try:
                await self.notice_call(name, None if name == "notices_list" else PROBE_ID, logical)
            except UpstreamError as err:
                verdict, evidence = failure_verdict(err)
                if verdict == ROUTE_MISSING:
                    self.row(name).record(ROUTE_MISSING, evidence)
                elif err.status == 404:
                    self.row(name).record(NOT_RUN, "the route exists (404 record-not-found for a made-up id), but no "
                                                   "notice could be made to exercise it")
                else:
                    self.row(name).record(NOT_RUN, f"no notice could be made to exercise it; a probe got: {evidence}")
            else:
                self.row(name).record(NOT_RUN if name != "notices_list" else OK,
                                      "" if name == "notices_list" else "no notice could be made to exercise it")

    def suggest_routes(self) -> None:
        """Each route that answered 404 as missing: the line to correct under [statuspal.endpoints].

        The right route cannot be inferred from a 404, so the line is shown commented out, with today's value."""
        for name, row in self.rows.items():
            strategy = {"notices_resolve": "resolve_strategy", "notices_close": "close_strategy"}.get(name, "")
            if row.verdict != ROUTE_MISSING or ("statuspal.notices", strategy) in self.fixes:
                continue  # a missing action route that PATCH ends_at replaced is fixed by the strategy line
            endpoint = self.table[name]
            self.fix("statuspal.endpoints", name, f"{endpoint.method} {endpoint.path}",
                     "answered 404 (route missing): replace with the route this StatusPal uses", placeholder=True)
        if any(n.startswith("notices_") and r.verdict == ROUTE_MISSING for n, r in self.rows.items()):
            self.note(
                "Notices routes may be org-scoped (no {subdomain}); the page then travels as "
                "statuspal.notices.page_field. Correct the routes and re-run check-api."
            )

    # -------------------------------------------------------------- hints

    def hint_field(self, logical: str, data: Any) -> None:
        """A config line for a notice field StatusPal did not show under its configured name, when the answer
        has exactly one other key that plausibly carries it; otherwise a note naming the key to correct."""
        key = NOTICE_KEYS.get(logical)
        if logical == "affected" and self.hint_ids(data):
            return
        if logical == "message":
            self.hint_updates(data)
            key = "text_field"
        if key is None:
            return
        configured = getattr(self.wire, key)
        candidates = [k for k in _unmapped(data, self.wire) if any(w in k.lower() for w in _LIKELY_WORDS.get(logical, ()))]
        if logical != "message" and len(candidates) == 1:
            candidate = candidates[0]
            self.fix("statuspal.notices", key, candidate,
                     f"a guess: {logical} is not shown as {configured!r}; the answer carries {candidate}: {excerpt(data[candidate], 60)}")
            if logical == "affected":
                shape = _shape_of(data[candidate])
                if shape and shape != self.wire.affected_shape:
                    self.fix("statuspal.notices", "affected_shape", shape, f"the answer's {candidate} is a {_SHAPE_WORDS[shape]}")
            return
        shown = "kept the text sent" if logical == "message" else "showed it"
        self.field_notes.setdefault(key, (
            f"{logical}: StatusPal neither {shown} as {configured!r} (statuspal.notices.{key}); the right name cannot "
            f"be read from its answer, which carries {_keys_evidence(data, self.wire)}."
        ))

    def hint_ids(self, data: Any) -> bool:
        """An affected list that names the service the check made by its id, not its slug: the field, shape and
        reference lines for it."""
        service = self.ids.get("services")
        if service is None or self.wire.affected_ref == "id" or not isinstance(data, Mapping):
            return False
        found = [k for k, v in data.items() if service[1] in _references(v)]
        if len(found) != 1:
            return False
        name = found[0]
        self.fix("statuspal.notices", "affected_ref", "id",
                 f"the answer's {name} names the service by its id {service[1]!r}, not its slug {service[0]!r}")
        if name != self.wire.affected_field:
            self.fix("statuspal.notices", "affected_field", name, f"the answer carries the affected services as {name}")
        shape = _shape_of(data[name])
        if shape and shape != self.wire.affected_shape:
            self.fix("statuspal.notices", "affected_shape", shape, f"the answer's {name} is a {_SHAPE_WORDS[shape]}")
        return True

    def hint_updates(self, data: Any) -> None:
        """The timeline under another key, or its entries' text under another key, found by the text sent."""
        if not isinstance(data, Mapping):
            return
        lists = {k: v for k, v in data.items() if isinstance(v, list) and k != self.wire.updates_field
                 and any(w in k.lower() for w in _LIKELY_WORDS["updates"])}
        if self.wire.updates_field not in data and len(lists) == 1:
            name, items = next(iter(lists.items()))
            self.fix("statuspal.notices", "updates_field", name, f"a guess: the answer's timeline looks like {name}: {excerpt(items, 60)}")
        entries = data.get(self.wire.updates_field) or next(iter(lists.values()), [])
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                continue
            if self.wire.update_text_key not in entry:
                texts = [k for k, v in entry.items() if isinstance(v, str) and self.marker in v]
                if len(texts) == 1:
                    self.fix("statuspal.notices", "update_text_key", texts[0], f"the timeline entry carries the text sent under {texts[0]}")
            if self.wire.update_notify_key not in entry:
                flags = [k for k, v in entry.items() if isinstance(v, bool) and "notif" in k.lower()]
                if len(flags) == 1:
                    self.fix("statuspal.notices", "update_notify_key", flags[0], f"the timeline entry carries {flags[0]}: {excerpt(entry[flags[0]])}")

    def hint_from_refusal(self, err: UpstreamError, body: Mapping[str, Any]) -> None:
        """A 422 names fields StatusPal wants ("can't be blank") or refuses ("not permitted"): each one it
        wants that was not sent is matched, by its words, with the logical field sent under another name."""
        if err.status != 422 or not isinstance(err.details, Mapping):
            return
        sent = {self.wire.wire_name(n): n for n in REQUEST_FIELDS}
        refused = [k for k in err.details if k in body and k in sent]
        wanted = [k for k in err.details if k not in body]
        for name in wanted:
            matches = [logical for logical in REQUEST_FIELDS
                       if any(w in name.lower() for w in _LIKELY_WORDS.get(logical, ())) and self.wire.wire_name(logical) != name]
            if len(matches) == 1:
                logical = matches[0]
                self.fix("statuspal.notices", REQUEST_FIELDS[logical], name,
                         f"a guess: StatusPal answered 422 {name}: {excerpt(err.details[name], 60)} to a body that sent "
                         f"{logical} as {self.wire.wire_name(logical)!r}")
        for name in refused:
            key = REQUEST_FIELDS[sent[name]]
            self.field_notes.setdefault(key, f"{sent[name]}: StatusPal refused the field {name!r} (statuspal.notices.{key}): "
                                             f"{excerpt(err.details[name], 80)}; its right name cannot be read from the answer.")

    # -------------------------------------------------------------- webhooks

    async def webhook_step(self) -> None:
        asked: dict[str, Any] = {"name": f"Check webhook {self.marker}", "url": UNROUTABLE_URL, "events": ["notice.created"],
                 "enabled": False, "all_status_pages": False, "status_page_subdomains": [self.page]}
        pending = _Made(f"webhook {asked['name']!r} (if it was made)", "", {}, find=lambda: self.find_webhooks(asked["name"]))
        self.made.append(pending)
        try:
            result = await self.call("webhooks_create", body=asked)
        except UpstreamError as err:
            verdict, evidence = failure_verdict(err)
            self.row("webhooks_create").record(verdict, evidence)
            if not err.outcome_unknown:
                self.made.remove(pending)
            return
        data = result.data if isinstance(result.data, Mapping) else {}
        webhook_id = data.get("id")
        if not isinstance(webhook_id, str):
            self.row("webhooks_create").record(LACKS, f"the answer has no id; it carries {excerpt(sorted(data), 200)}", lacking=["id"])
            return
        self.made.remove(pending)
        params = {"webhook_id": webhook_id}
        self.made.append(_Made(f"webhook {webhook_id!r}", "webhooks_delete", params, get="webhooks_get"))
        first_secret = _digest(data.get("secret"))
        await self.verified("webhooks_create", "webhooks_get", params, asked, result, "webhook")
        if first_secret is None:
            self.row("webhooks_create").record(LACKS, "the answer carries no secret (it is shown only once, on create)", lacking=["secret"])
        got = await self.attempt("webhooks_get", self.call("webhooks_get", params))
        if got is not None:
            await self.verified("webhooks_get", None, params, {"id": webhook_id, "status_page_subdomains": [self.page]}, got, "webhook")
        listed = await self.attempt("webhooks_list", self.api.list_all("webhooks_list"))
        if listed is not None:
            self.listed("webhooks_list", listed.data, "id", webhook_id, "the webhook just created")
        change = {"name": f"Check webhook {self.marker} (renamed)"}
        updated = await self.attempt("webhooks_update", self.call("webhooks_update", params, body=change))
        if updated is not None:
            await self.verified("webhooks_update", "webhooks_get", params, change, updated, "webhook")
        rotated = await self.attempt("webhooks_rotate_secret", self.call("webhooks_rotate_secret", params))
        if rotated is not None:
            secret = _digest(rotated.data.get("secret") if isinstance(rotated.data, Mapping) else None)
            if secret is None:
                self.row("webhooks_rotate_secret").record(LACKS, "the answer carries no new secret", lacking=["secret"])
            elif secret == first_secret:
                self.row("webhooks_rotate_secret").record(IGNORED, "the answer carries the same secret as before", ignored=["secret"])
            else:
                self.row("webhooks_rotate_secret").record(OK, "a new secret came back (not shown)")

    async def find_webhooks(self, name: str) -> list[_Made]:
        """Webhooks with this run's unique name that reach the check page only (never another page's)."""
        result = await self.api.list_all("webhooks_list")
        return [
            _Made(f"webhook {w['id']!r}", "webhooks_delete", {"webhook_id": w["id"]}, get="webhooks_get")
            for w in result.data or []
            if isinstance(w, Mapping) and isinstance(w.get("id"), str) and w.get("name") == name
            and w.get("all_status_pages") is False and w.get("status_page_subdomains") == [self.page]
        ]

    # -------------------------------------------------------------- cleanup

    async def cleanup(self) -> None:
        """Delete what the check made, newest first, and record each delete's verdict. Never raises."""
        for made in reversed(self.made):
            if made.find is not None:
                try:
                    found = await made.find()
                except UpstreamError as err:
                    self.left_behind.append(f"{made.label}: could not look for it ({failure_verdict(err)[1]})")
                    continue
                for item in found:
                    await self.delete(item)
                continue
            await self.delete(made)
        self.made.clear()

    async def delete(self, made: _Made) -> None:
        row = self.row(made.endpoint)
        try:
            await self.call(made.endpoint, made.params, query=made.query)
        except UpstreamError as err:
            if err.status == 404 and not err.route_missing and not made.confirmed:
                return  # a create whose answer was lost, and which did not take effect after all: nothing to delete
            verdict, evidence = failure_verdict(err)
            row.record(verdict, f"{made.label}: {evidence}")
            self.left_behind.append(f"{made.label} on page {self.page!r}")
            return
        gone = True
        if made.get is not None:
            try:
                await self.call(made.get, made.params, query=made.query)
            except UpstreamError as err:
                gone = err.status == 404 and not err.route_missing
            else:
                gone = False
        if gone:
            row.record(OK)
            self.deleted.append(made.label)
        else:
            row.record(ERROR, f"{made.label}: the delete answered success but a GET still finds it")
            self.left_behind.append(f"{made.label} on page {self.page!r}")


_SHAPE_WORDS = {"map": "map of service -> regions", "list": "plain list", "objects": "list of objects"}


def _shape_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "list"
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return "objects"
    return None


def _references(value: Any) -> set[str]:
    """Every string an affected value could name a service by: map keys, list items, object values."""
    if isinstance(value, Mapping):
        return {str(k) for k in value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)} | {
            v for item in value if isinstance(item, Mapping) for v in item.values() if isinstance(v, str)}
    return set()


def _keys(data: Any) -> list[str]:
    return list(data) if isinstance(data, Mapping) else []


def _unmapped(data: Any, wire: NoticeWire) -> list[str]:
    """Answer keys the mapping does not read: where a field under another name would be."""
    mapped = {getattr(wire, attr) for attr in NoticeWire.keys() if attr.endswith("_field")}
    mapped |= {"resolved_at", "closed_at", "created_at", "updated_at"}
    return [k for k in _keys(data) if k not in mapped]


def _keys_evidence(data: Any, wire: NoticeWire) -> str:
    """The answer's keys, with the values of those the mapping does not read (where a dropped field may be)."""
    if not isinstance(data, Mapping):
        return f"no object ({excerpt(data, 60)})"
    unmapped = _unmapped(data, wire)
    shown = ", ".join(f"{k}: {excerpt(data[k], 60)}" for k in unmapped) or "nothing the mapping does not read"
    return f"keys {', '.join(data)}; not read by the mapping: {shown}"


def _digest(secret: Any) -> str | None:
    """Secrets are compared by digest and never kept or shown as they are."""
    return hashlib.sha256(secret.encode()).hexdigest() if isinstance(secret, str) and secret else None
