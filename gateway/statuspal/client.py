"""The StatusPal Next API client: one pooled HTTP session, per-key throttling, careful retries.

`StatusPalClient` is process-wide (one connection pool); `for_key(api_key)` gives a `StatusPalAPI` bound
to one caller's key, which every tool call uses. Every request goes to `settings.base_url` and nowhere
else: redirects are not followed (a redirect could carry the key to another host) and the cookie jar is a
dummy, because one pooled session serves every user and a cookie set for one key must never ride along
with another key's request.

Retries: GET/PUT/PATCH/DELETE are retried on 429/502/503/504 and on connection failures, with
exponential backoff and full jitter, honouring `Retry-After` up to `retry_after_max_seconds` (a longer
wait gives up at once and reports when to come back). One call sends at most 1 + `max_retries` requests:
this loop is the only retry (aiohttp's own silent resend on a dropped connection is switched off). A POST is retried only when the connection was
never established; once it may have reached StatusPal it is never sent again, because a repeated
"open incident" would create a second incident and notify subscribers twice.

Throttling: each key has a token bucket of `rate_per_second` and `rate_burst`, StatusPal's own limit; with a
shared store (Redis) the bucket lives there, one per key for every instance.

Pauses: a 429 whose Retry-After names a wait pauses that key in this process until the wait is over. A
call made meanwhile is not sent: it waits out a short pause (up to `retry_after_max_seconds`) or is refused
at once with the time left, so a model retrying a rate-limited call cannot keep StatusPal's limit tripped
(which can lengthen it). Each instance learns a pause from its own 429: with N instances a paused key costs
StatusPal at most N refused calls per pause.

Time: the whole call (waiting for the key's rate limit, every attempt, every backoff) stays within
`total_timeout_seconds`. A call that could not even be sent within that budget, because the key has more
calls queued than its rate allows, is refused at once, unsent, as a 429 that says when to retry.

The key travels only in the Authorization header. It is never logged and never put in an exception;
text that StatusPal sends back is scrubbed of it before it can reach a model.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from yarl import URL

from gateway.auth.identity import key_id
from gateway.compat.aiohttp_private import disable_connection_retry
from gateway.observability.tracing import ACTIVE
from gateway.statuspal.endpoints import MAX_PER_PAGE, Endpoint, EndpointTable
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, UpstreamForbidden, UpstreamUnavailable
from gateway.statuspal.settings import StatusPalSettings
from gateway.statuspal.spans import traced_attempt
from gateway.store.base import StoreUnavailable
from gateway.store.memory import MemoryStore

if TYPE_CHECKING:
    from gateway.store.base import Store

log = logging.getLogger("gateway.upstream")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Safe to send twice (RFC 9110 idempotent methods, plus PATCH: the gateway's PATCHes set fields, they never append).
REPEATABLE_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
SUCCESS_STATUSES = frozenset({200, 201, 204})
MAX_BUCKETS = 4096
# The longest a 429's Retry-After pauses a key here: at worst one call a key every five minutes reaches a
# StatusPal that keeps refusing it.
MAX_PAUSE_SECONDS = 300.0
USER_AGENT = "statuspal-mcp/0.1"
_KEY_SHAPE = re.compile(r"[\x21-\x7e]+")

OnCall = Callable[[str, int], None]
Progress = Callable[[float, float | None, str | None], Awaitable[None] | None]


@dataclass(frozen=True)
class UpstreamResult:
    status: int
    data: Any
    meta: dict[str, Any] | None = None


@dataclass
class _NoAnswer:
    """An attempt that got no HTTP answer. `sent` is False only when the connection was never made."""

    code: str
    message: str
    sent: bool
    retryable: bool = True


class StatusPalClient:
    def __init__(
        self, settings: StatusPalSettings, endpoints: EndpointTable, *, on_call: OnCall | None = None,
        shared_buckets: Store | None = None,
    ) -> None:
        self.settings = settings
        self.endpoints = endpoints
        # Metrics hook: (endpoint name, HTTP status or 0 when no answer arrived), once per attempt.
        self.on_call = on_call
        self._base = settings.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        # One token bucket per key (StatusPal's own limit), kept by a store's reservation-style `take`. StatusPal
        # limits a key, not an instance: with several instances each holding its own bucket, N of them would let
        # a key through at N times its rate and StatusPal would answer 429s. A store shared by the instances
        # (Redis) holds one bucket per key for all of them; without one, or while it does not answer, this
        # instance's own store does, bounded by MAX_BUCKETS (an evicted bucket only gives its key a fresh burst).
        self._own_buckets = MemoryStore(max_counters=MAX_BUCKETS)
        self._shared = shared_buckets
        self._shared_failed = False
        # key id -> the loop time until which StatusPal asked this key to pause; bounded like the buckets.
        self._pauses: OrderedDict[str, float] = OrderedDict()

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(
                    total=self.settings.total_timeout_seconds, connect=self.settings.connect_timeout_seconds
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
            )
            # Our loop below is the only retry, so the count of sends is exactly 1 + max_retries.
            disable_connection_retry(self._session)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def for_key(self, api_key: str, key_id: str | None = None) -> StatusPalAPI:
        """The API as one key's caller uses it; `key_id`, when the caller already has it, saves hashing the key again."""
        if not isinstance(api_key, str) or not _KEY_SHAPE.fullmatch(api_key):
            # No StatusPal key looks like this, so it is rejected as StatusPal would reject it, without a
            # round trip (and without a header aiohttp would refuse). The message never repeats the value.
            raise UpstreamAuthError(401, "invalid_key", "the API key is empty or contains characters an API key cannot have")
        return StatusPalAPI(self, api_key, key_id)

    def pause(self, kid: str, seconds: float) -> None:
        """Remember StatusPal's Retry-After for this key. The map is bounded: at worst a dropped pause costs one
        more refused call."""
        until = asyncio.get_running_loop().time() + seconds
        if until > self._pauses.get(kid, 0.0):
            self._pauses[kid] = until
            self._pauses.move_to_end(kid)
            if len(self._pauses) > MAX_BUCKETS:
                self._pauses.popitem(last=False)

    def paused_for(self, kid: str) -> float:
        """Seconds left of the key's pause; 0 when it has none."""
        until = self._pauses.get(kid)
        if until is None:
            return 0.0
        left = until - asyncio.get_running_loop().time()
        if left <= 0:
            del self._pauses[kid]
            return 0.0
        return left

    async def reserve(self, kid: str, max_wait: float) -> float:
        """Take a token of the key's bucket; the seconds to wait before sending. A wait over `max_wait` takes
        nothing. When the shared store does not answer, this instance's own bucket still spaces the key's calls
        (an outage of Redis should not become an outage of every tool call)."""
        if self._shared is not None:
            try:
                wait = await self._shared.take(
                    f"rl:upstream:{kid}", self.settings.rate_per_second, self.settings.rate_burst, max_wait
                )
            except StoreUnavailable as exc:
                if not self._shared_failed:
                    log.warning("the shared per-key rate limit is unavailable, using this instance's own: %s", exc)
                self._shared_failed = True
            else:
                self._shared_failed = False
                return wait
        return await self._own_buckets.take(f"rl:upstream:{kid}", self.settings.rate_per_second, self.settings.rate_burst, max_wait)

    async def request(
        self,
        api_key: str,
        kid: str,
        name: str,
        params: Mapping[str, Any],
        body: Mapping[str, Any] | None,
        query: Mapping[str, Any] | None,
    ) -> UpstreamResult:
        if self._session is None:
            raise RuntimeError("StatusPalClient.start() has not been awaited")
        endpoint = self._endpoint(name)
        target = {k: str(params[k]) for k in endpoint.path_params if k in params}
        try:
            path = endpoint.render(params)  # once, for the URL and for the call's errors: it escapes every segment
            url = URL(self._base + path, encoded=True)
        except KeyError as exc:
            raise ValueError(f"endpoint {name} needs the path parameter {exc.args[0]}") from None
        if body is not None:
            extra = sorted(set(body) - set(endpoint.body_fields))
            if extra:
                raise ValueError(f"endpoint {name} does not take the body field(s) {', '.join(extra)}")
        headers = {"Accept": "application/json", "Authorization": f"Bearer {api_key}"}
        payload = None
        if body is not None:
            payload = orjson.dumps(dict(body))
            headers["Content-Type"] = "application/json"
        call = _Call(self, api_key, kid, endpoint, url, headers, payload, _query(query), target, path)
        return await call.run()

    def _endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise ValueError(f"unknown StatusPal endpoint {name!r}") from None


class _Call:
    """One logical call: throttle, send, maybe retry, map the answer."""

    def __init__(
        self,
        client: StatusPalClient,
        api_key: str,
        kid: str,
        endpoint: Endpoint,
        url: URL,
        headers: dict[str, str],
        payload: bytes | None,
        query: dict[str, str],
        target: dict[str, str],
        path: str,
    ) -> None:
        self.client = client
        self.path = path
        self.excerpt = ""
        self.settings = client.settings
        self.api_key = api_key
        self.kid = kid
        self.endpoint = endpoint
        self.url = url
        self.headers = headers
        self.payload = payload
        self.query = query
        self.target = target
        self.repeatable = endpoint.method in REPEATABLE_METHODS
        self.retried = False
        self.status = 0  # of the latest attempt, for its span

    async def run(self) -> UpstreamResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.total_timeout_seconds
        attempt = 0
        error: UpstreamError | None = None
        while True:
            await self._wait_out_pause(deadline)  # before taking a token: a paused call should not spend one
            budget = deadline - loop.time()
            wait = await self.client.reserve(self.kid, budget)
            if wait > budget:  # nothing was taken
                raise error or self._error(
                    UpstreamUnavailable, 429, "rate_limited",
                    f"more calls with this API key are queued than its limit of {self.settings.rate_per_second:g} "
                    f"per second lets through within {self.settings.total_timeout_seconds:g} s",
                    retry_after=wait,
                )
            if wait:
                await asyncio.sleep(wait)
                # A 429 another call of this key met while this one waited for its token pauses this one too.
                await self._wait_out_pause(deadline)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._error(UpstreamUnavailable, 0, "timeout", self._timeout_text())
            # With traces on, the call and each retry of it are CLIENT spans of their own.
            tracer = ACTIVE.tracer
            outcome = await (self._attempt(remaining) if tracer is None
                             else traced_attempt(tracer, self, functools.partial(self._attempt, remaining), attempt))
            if isinstance(outcome, UpstreamResult):
                return outcome
            error, retry_after = outcome
            if attempt >= self.settings.max_retries:
                raise error
            if retry_after is not None and retry_after > self.settings.retry_after_max_seconds:
                raise error  # StatusPal asked for a longer pause than a tool call can wait
            delay = retry_after if retry_after is not None else random.uniform(0, self.settings.retry_backoff_seconds * 2**attempt)
            if loop.time() + delay >= deadline:
                raise error
            log.info(
                "upstream %s: %s, retry %d of %d in %.2f s",
                self.endpoint.name, error.code or error.status, attempt + 1, self.settings.max_retries, delay,
            )
            await asyncio.sleep(delay)
            attempt += 1
            self.retried = True

    async def _wait_out_pause(self, deadline: float) -> None:
        """Return once the key is not paused; a pause longer than `retry_after_max_seconds` or than the call's
        time left is refused at once, unsent, with the time the pause has left (not an earlier attempt's
        wait, which another call's 429 may have lengthened since). Checked again after each sleep, since
        another call's 429 can lengthen the pause meanwhile."""
        loop = asyncio.get_running_loop()
        while paused := self.client.paused_for(self.kid):
            if paused > self.settings.retry_after_max_seconds or paused >= deadline - loop.time():
                raise self._error(
                    UpstreamUnavailable, 429, "rate_limited",
                    "StatusPal asked for a pause of this API key's calls; this call was not sent", retry_after=paused,
                )
            await asyncio.sleep(paused)

    async def _attempt(self, remaining: float) -> UpstreamResult | tuple[UpstreamError, float | None]:
        """One HTTP exchange. Returns the result, or (error to raise, Retry-After) where the error is marked
        retryable by being returned rather than raised."""
        session = self.client._session
        assert session is not None
        timeout = aiohttp.ClientTimeout(total=remaining, connect=min(self.settings.connect_timeout_seconds, remaining))
        try:
            async with session.request(
                self.endpoint.method,
                self.url,
                params=self.query or None,
                data=self.payload,
                headers=self.headers,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after_header = resp.headers.get("Retry-After")
        except aiohttp.ClientSSLError:
            self._observe(0)
            raise self._error(UpstreamUnavailable, 0, "tls_error", "the TLS handshake with StatusPal failed") from None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
            # No connection was made, so nothing was sent: safe to retry whatever the method.
            return self._no_answer(_NoAnswer("connection_error", "could not connect to StatusPal", sent=False))
        except TimeoutError:
            return self._no_answer(_NoAnswer("timeout", self._timeout_text(), sent=True, retryable=False))
        except aiohttp.ClientError:
            return self._no_answer(_NoAnswer("connection_error", "the connection dropped before StatusPal answered", sent=True))
        self._observe(status)
        log.debug("upstream %s answered %d", self.endpoint.name, status)
        return self._answer(status, raw, retry_after_header)

    def _observe(self, status: int) -> None:
        self.status = status
        if self.client.on_call is not None:
            self.client.on_call(self.endpoint.name, status)

    def _no_answer(self, failure: _NoAnswer) -> tuple[UpstreamError, None]:
        self._observe(0)
        self.excerpt = ""
        unknown = failure.sent and not self.repeatable
        error = self._error(UpstreamUnavailable, 0, failure.code, failure.message, outcome_unknown=unknown)
        if unknown or not failure.retryable:
            raise error
        return error, None

    def _answer(self, status: int, raw: bytes, retry_after_header: str | None) -> UpstreamResult | tuple[UpstreamError, float | None]:
        if status in SUCCESS_STATUSES:
            return self._success(status, raw)
        if 300 <= status < 400:
            raise self._error(
                UpstreamError, status, "unexpected_redirect",
                "StatusPal answered with a redirect, which the gateway never follows (check statuspal.base_url)",
            )
        code, message, details, envelope = self._error_body(status, raw)
        self.excerpt = self._scrub(_clean(raw.decode("utf-8", "replace")))[:200]
        retry_after = _retry_after(retry_after_header)
        if status == 429 and retry_after:
            # Capped: a Retry-After of days (or a date in 9999) would otherwise lock the key until a restart; past
            # the cap one call goes through, and a StatusPal still limiting the key answers with a new pause.
            self.client.pause(self.kid, min(retry_after, MAX_PAUSE_SECONDS))
        if status == 401:
            raise self._error(UpstreamAuthError, status, code, message, details)
        if status == 403:
            # Only this resource is refused (a key limited to some pages); check_key turns it into an
            # auth failure when it is the key check itself that is refused.
            raise self._error(UpstreamForbidden, status, code, message, details)
        if status == 404 and envelope and code == "not_found" and self.retried and self.endpoint.method == "DELETE":
            # The earlier attempt, whose answer was lost, deleted it: the record is gone, as asked.
            return UpstreamResult(204, None)
        if status == 404 and not (envelope and code == "not_found"):
            # Not StatusPal's record-not-found envelope: most likely a route this StatusPal does not have.
            error = self._error(UpstreamError, status, code, message, details)
            error.route_missing = True
            raise error
        if status == 429 or status >= 500:
            # A 429 was refused before any work; a POST that got a 5xx may have been partly applied.
            unknown = status >= 500 and not self.repeatable
            error = self._error(UpstreamUnavailable, status, code, message, details, retry_after, outcome_unknown=unknown)
            if status in RETRY_STATUSES and self.repeatable:
                return error, retry_after
            raise error
        raise self._error(UpstreamError, status, code, message, details)

    def _success(self, status: int, raw: bytes) -> UpstreamResult:
        if status == 204 or not raw.strip():
            return UpstreamResult(status, None)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise self._error(UpstreamError, status, "bad_response", "StatusPal answered with a body that is not JSON") from None
        if isinstance(body, dict) and "data" in body:
            meta = body.get("meta")
            return UpstreamResult(status, body["data"], meta if isinstance(meta, dict) else None)
        return UpstreamResult(status, body)

    def _error_body(self, status: int, raw: bytes) -> tuple[str, str, dict[str, Any], bool]:
        """`{error, message, details}` when StatusPal sent it; else the status phrase and a short, clean
        slice of whatever came back (an HTML error page from a proxy, say). The flag says which it was."""
        phrase = _phrase(status)
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict) and ("error" in body or "message" in body):
            code = body.get("error") if isinstance(body.get("error"), str) else phrase
            message = body.get("message") if isinstance(body.get("message"), str) else ""
            details = body.get("details") if isinstance(body.get("details"), dict) else {}
            return self._scrub(code)[:80], self._scrub(message)[:500], self._scrub(details), True
        return phrase, self._scrub(_clean(raw.decode("utf-8", "replace")))[:200], {}, False

    def _scrub(self, value: Any) -> Any:
        """Remove the caller's key from anything StatusPal echoed back (an error page that quotes headers)."""
        if isinstance(value, str):
            return value.replace(self.api_key, "[redacted]")
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        if isinstance(value, dict):
            return {self._scrub(str(k)): self._scrub(v) for k, v in value.items()}
        return value

    def _error(
        self,
        cls: type[UpstreamError],
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
        *,
        outcome_unknown: bool = False,
    ) -> UpstreamError:
        return cls(
            status=status,
            code=code,
            message=message,
            details=details or {},
            retry_after=retry_after,
            endpoint=self.endpoint.name,
            target=self.target,
            outcome_unknown=outcome_unknown,
            method=self.endpoint.method,
            path=self.path,
            excerpt=self.excerpt,
        )

    def _timeout_text(self) -> str:
        return f"no answer within {self.settings.total_timeout_seconds:g} s"


class StatusPalAPI:
    """The StatusPal API as one caller sees it: every request carries that caller's key."""

    __slots__ = ("_client", "_key", "key_id")

    def __init__(self, client: StatusPalClient, api_key: str, known_id: str | None = None) -> None:
        self._client = client
        self._key = api_key
        self.key_id = known_id or key_id(api_key)

    def __repr__(self) -> str:
        return f"StatusPalAPI(key_id={self.key_id!r})"

    @property
    def endpoints(self) -> EndpointTable:
        """The endpoint table with its notice wire mapping, for tools that shape bodies and read answers."""
        return self._client.endpoints

    async def call(
        self,
        endpoint_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> UpstreamResult:
        return await self._client.request(self._key, self.key_id, endpoint_name, params or {}, body, query)

    async def list_all(
        self,
        endpoint_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        per_page: int = MAX_PER_PAGE,
        progress: Progress | None = None,
        max_pages: int | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> UpstreamResult:
        """Follow pages until `meta.total_pages`, at most `max_pages` (never more than settings.max_pages),
        and start no page after `total_timeout_seconds` from the first.

        Each page is bounded like any call, but fifty slow pages in a row would hold a tool call for many
        minutes, long after the assistant gave up waiting. The time bound stops the walk between pages, so
        what was fetched is still returned; a page started just before the bound has its own full budget, so
        a walk takes at most about twice `total_timeout_seconds`. The answer's meta has `truncated: true` when either bound
        stopped it, so a model knows the list is partial instead of believing it saw everything.
        """
        if not self._client.endpoints[endpoint_name].paginated:
            raise ValueError(f"endpoint {endpoint_name} is not paginated")
        limit = self._client.settings.max_pages if max_pages is None else min(max_pages, self._client.settings.max_pages)
        limit = max(limit, 1)
        items: list[Any] = []
        page, total_pages, total_count, truncated = 0, 0, None, False
        walk_deadline = time.monotonic() + self._client.settings.total_timeout_seconds
        while True:
            page += 1
            result = await self.call(endpoint_name, params, query={**(query or {}), "page": page, "per_page": per_page})
            data = result.data if isinstance(result.data, list) else []
            items.extend(data)
            meta = result.meta or {}
            total_pages = _int(meta.get("total_pages"), page)
            total_count = _int(meta.get("total_count"), len(items))
            if progress is not None:
                outcome = progress(page, min(total_pages, limit), f"Fetched page {page} of {total_pages} ({len(items)} items)")
                if inspect.isawaitable(outcome):
                    await outcome
            if page >= total_pages or not data:
                break
            if page >= limit or time.monotonic() >= walk_deadline:
                truncated = True
                break
        meta = {
            "total_count": total_count,
            "total_pages": total_pages,
            "per_page": per_page,
            "pages_fetched": page,
            "truncated": truncated,
        }
        return UpstreamResult(200, items, meta)

    async def check_key(self) -> None:
        """Raise UpstreamAuthError for a bad key, UpstreamUnavailable when StatusPal cannot say."""
        try:
            await self.call("status_pages_list", query={"per_page": 1})
        except UpstreamForbidden as err:
            # Listing pages is what any valid key may do, so a 403 here refuses the key itself.
            raise UpstreamAuthError(status=err.status, code=err.code, message=err.message, endpoint=err.endpoint) from None
        except (UpstreamAuthError, UpstreamUnavailable):
            raise
        except UpstreamError as err:
            # Neither yes nor no (a 404 here means a wrong base_url): the key cannot be confirmed.
            raise UpstreamUnavailable(
                status=err.status, code=err.code, message=f"the key check got an unexpected answer: {err.message}",
                endpoint=err.endpoint,
            ) from None


def _query(query: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (query or {}).items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _clean(text: str) -> str:
    """Text of an answer body on one line: tags, control characters and runs of space removed."""
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return f"http_{status}"


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
