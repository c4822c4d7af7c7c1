"""Request-body checks that answer the way StatusPal does: one 422 listing every bad field.

`Fields` walks one JSON body. Each accessor returns the cleaned value, or `MISSING` when the field was
not sent, so PATCH handlers change only what the caller gave (explicit false/0/"" included).
Fields outside the endpoint table's `body_fields` are refused in strict mode: a gateway that drifts from
the table gets a loud 422 from the sandbox. In lenient mode they are dropped without a word, which is what
a Rails server does with unpermitted parameters, so tests can see how the gateway fares when nothing warns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sandbox.models import iso

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class ApiError(Exception):
    """An error answer: HTTP status plus the StatusPal error body."""

    def __init__(self, status: int, error: str, message: str, details: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": error, "message": message}
        if details:
            self.body["details"] = details


def not_found() -> ApiError:
    return ApiError(404, "not_found", "The requested resource was not found")


def invalid(details: dict[str, list[str]]) -> ApiError:
    return ApiError(422, "unprocessable_entity", "Validation failed", details)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones()) | {"UTC", "Etc/UTC"}


def slugify(name: str, fallback: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80].strip("-") or fallback


def unique_slug(base: str, taken: Iterable[str]) -> str:
    """`base`, or `base-2`, `base-3`, … on a collision (StatusPal's numeric-suffix rule)."""
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


class Fields:
    def __init__(self, body: dict[str, Any], allowed: Iterable[str], *, strict: bool = True) -> None:
        self.errors: dict[str, list[str]] = {}
        allowed = set(allowed)
        self.body = body if strict else {k: v for k, v in body.items() if k in allowed}
        for name in self.body:
            if name not in allowed:
                self.add(name, "is not a permitted field")

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def given(self, name: str) -> bool:
        return name in self.body

    def check(self) -> None:
        if self.errors:
            raise invalid(self.errors)

    def _get(self, name: str, required: bool, nullable: bool) -> Any:
        if name not in self.body:
            if required:
                self.add(name, "can't be blank")
            return MISSING
        value = self.body[name]
        if value is None and not nullable:
            self.add(name, "can't be blank")
            return MISSING
        return value

    def string(self, name: str, *, required: bool = False, nullable: bool = False, max_length: int = 255) -> Any:
        value = self._get(name, required, nullable)
        if value is MISSING or value is None:
            return value
        if not isinstance(value, str):
            self.add(name, "must be a string")
            return MISSING
        value = value.strip()
        if not value and not nullable:
            self.add(name, "can't be blank")
            return MISSING
        if len(value) > max_length:
            self.add(name, f"is too long (maximum is {max_length} characters)")
            return MISSING
        return value or None

    def boolean(self, name: str, *, required: bool = False) -> Any:
        value = self._get(name, required, False)
        if value is MISSING:
            return value
        if not isinstance(value, bool):
            self.add(name, "must be true or false")
            return MISSING
        return value

    def integer(self, name: str, *, minimum: int | None = None) -> Any:
        value = self._get(name, False, False)
        if value is MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(name, "must be an integer")
            return MISSING
        if minimum is not None and value < minimum:
            self.add(name, f"must be greater than or equal to {minimum}")
            return MISSING
        return value

    def choice(self, name: str, choices: Iterable[str], *, required: bool = False, nullable: bool = False) -> Any:
        value = self._get(name, required, nullable)
        if value is MISSING or value is None:
            return value
        choices = tuple(choices)
        if value not in choices:
            self.add(name, f"is not included in the list ({', '.join(choices)})")
            return MISSING
        return value

    def slug(self, name: str, pattern: re.Pattern[str] = SLUG, *, required: bool = False) -> Any:
        value = self.string(name, required=required, max_length=100)
        if value is MISSING:
            return value
        if not pattern.match(value):
            self.add(name, "is invalid (use lower-case letters, digits and single hyphens)")
            return MISSING
        return value

    def url(self, name: str, *, required: bool = False, https_only: bool = False) -> Any:
        value = self.string(name, required=required, max_length=2048)
        if value is MISSING:
            return value
        schemes = ("https",) if https_only else ("http", "https")
        try:
            parts = urlsplit(value)
            valid = parts.scheme in schemes and bool(parts.hostname)
        except ValueError:  # e.g. "http://[::1": the standard library refuses to split it at all
            valid = False
        if not valid:
            self.add(name, "must be an https URL" if https_only else "must be an http or https URL")
            return MISSING
        return value

    def timezone(self, name: str, *, required: bool = False) -> Any:
        value = self.string(name, required=required, max_length=64)
        if value is MISSING:
            return value
        if value not in _time_zones():
            self.add(name, "is not a valid IANA time zone (e.g. Europe/Berlin)")
            return MISSING
        return value

    def timestamp(self, name: str) -> Any:
        """An ISO 8601 date-time with an offset, returned normalised to UTC (`...Z`)."""
        value = self._get(name, False, False)
        if value is MISSING:
            return value
        if not isinstance(value, str):
            self.add(name, "must be an ISO 8601 date-time string")
            return MISSING
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            self.add(name, "must be an ISO 8601 date-time (e.g. 2026-03-01T02:00:00Z)")
            return MISSING
        if moment.tzinfo is None:
            self.add(name, "must include a time zone offset (e.g. Z for UTC)")
            return MISSING
        return iso(moment.astimezone(UTC))

    def string_list(self, name: str, *, required: bool = False) -> Any:
        value = self._get(name, required, False)
        if value is MISSING:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(name, "must be an array of strings")
            return MISSING
        return list(dict.fromkeys(value))  # keep order, drop repeats

    def object(self, name: str) -> Any:
        value = self._get(name, False, False)
        if value is MISSING:
            return value
        if not isinstance(value, dict):
            self.add(name, "must be an object")
            return MISSING
        return value

    def objects(self, name: str) -> Any:
        value = self._get(name, False, False)
        if value is MISSING:
            return value
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.add(name, "must be an array of objects")
            return MISSING
        return value
