"""Every schema problem of a call in one answer, each in words a model acts on.

A model that invented a page's name, subdomain, time zone and website should learn all four mistakes at once,
not pay a round trip for each. So every error jsonschema finds is worded (at most `MAX_PROBLEMS`, within
`MAX_CHARS`, then "and N more"), and the common ones get the next step rather than a rule: a missing `notify`
says to ask the user (a message to subscribers cannot be recalled); a display name where an identifier belongs
names the list tool that shows identifiers; an argument that belongs to another tool names that tool.
Every value quoted from the call is cut short, since a stranger chooses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema.exceptions import ValidationError

from gateway.observability.redaction import quotable

MAX_PROBLEMS = 10
MAX_CHARS = 2048
# A tool named in an argument's description as the one that lists its valid values.
_LISTER = re.compile(r"\b(list_[a-z_]+)\b")
# Which list tool shows an identifier argument's valid values, by the argument's name, for schemas (array items)
# whose own description does not say.
_LISTERS = {
    "subdomain": "list_status_pages", "service_slug": "list_services", "container_slugs": "list_containers",
    "notice_id": "list_notices", "webhook_id": "list_webhooks", "status_page_subdomains": "list_status_pages",
}
# An argument a model often sends to the wrong tool, and where it belongs.
_ELSEWHERE = {
    ("update_notice", "state"): "ending a notice is resolve_incident (incidents) or close_maintenance (maintenance, info)",
    ("update_notice", "message"): "new timeline text is post_notice_update",
    ("update_notice", "notify"): "telling subscribers goes with new text: post_notice_update",
    ("post_notice_update", "state"): "ending a notice is resolve_incident (incidents) or close_maintenance (maintenance, info)",
    ("create_incident", "starts_at"): "planned work is schedule_maintenance",
    ("create_incident", "ends_at"): "planned work is schedule_maintenance; an incident ends with resolve_incident",
    ("update_service", "status"): "a service's status follows its notices: open one with create_incident",
    ("update_status_page", "current_status"): "a page's status follows its notices: open one with create_incident",
}
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "true or false", int: "a number", float: "a number"}
_NOTIFY = ("notify is missing: ask the user whether subscribers should be told (an email, SMS or chat message that "
           "cannot be recalled), then pass true or false; never choose it yourself")


def describe_all(tool: str, errors: Iterable[ValidationError], takes: Mapping[str, tuple[str, ...]]) -> str:
    """The call's problems in one sentence list. `takes` maps an argument name to the tools that accept it."""
    problems: list[str] = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator or "")):
        problems.extend(_words(tool, error, takes))
    problems = list(dict.fromkeys(problems))  # one wording once, however many errors share it
    shown: list[str] = []
    size = 0
    for problem in problems:
        if len(shown) == MAX_PROBLEMS or size + len(problem) > MAX_CHARS:
            break
        shown.append(problem)
        size += len(problem) + 2
    rest = len(problems) - len(shown)
    return "; ".join(shown) + (f"; and {rest} more" if rest else "")


def _words(tool: str, error: ValidationError, takes: Mapping[str, tuple[str, ...]]) -> list[str]:
    where = _path(error)
    at = f"{where}: " if where else ""
    kind = error.validator
    instance = error.instance
    # jsonschema types these as "maybe unset"; on an error it raised, they are always set.
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    value: Any = error.validator_value
    if kind == "required":
        missing = [name for name in value if isinstance(instance, Mapping) and name not in instance]
        return [_NOTIFY if name == "notify" else f"{_join(where, name)} is missing{_hint(schema, name)}" for name in missing]
    if kind == "additionalProperties" and isinstance(instance, Mapping):
        known = set(schema.get("properties", {}))
        return [_unexpected(tool, name, where, takes) for name in instance if name not in known]
    if kind == "pattern":
        description = str(schema.get("description", ""))
        # A lookup names the list tool that shows valid values (or, for a list's items, its argument does); a new
        # identifier or a URL says what it must look like instead, never the pattern itself.
        found = _LISTER.search(description)
        lister = found.group(1) if found else (_lister_of(error) if not description else None)
        if lister is not None:
            return [f"{at}{_quote(instance)} is not an identifier (a display name, or malformed): pass the slug or id "
                    f"as {lister} shows it, never a name"]
        return [f"{at}{_quote(instance)} {_form_of(str(value), description)}"]
    if kind == "enum":
        return [f"{at}{_quote(instance)} is not one of {', '.join(map(str, value))}"]
    if kind == "const":
        return [f"{at}must be {value!r}"]
    if kind == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return [f"{at}must be {_type_words(wanted)}, not {_JSON_TYPES.get(type(instance), 'null')}"]
    if kind == "format":
        example = " such as 2026-03-01T02:00:00+01:00 (with its offset)" if value == "date-time" else ""
        return [f"{at}{_quote(instance)} is not a valid {value}{example}"]
    if kind in ("maxLength", "minLength"):
        return [f"{at}must be {'at most' if kind == 'maxLength' else 'at least'} {value} characters"]
    if kind in ("maxItems", "minItems"):
        return [f"{at}must have {'at most' if kind == 'maxItems' else 'at least'} {value} items"]
    if kind in ("maximum", "minimum"):
        return [f"{at}must be {'at most' if kind == 'maximum' else 'at least'} {value}"]
    if kind == "uniqueItems":
        return [f"{at}lists an item twice"]
    return [f"{at}{quotable(error.message, 300)}"]


def _unexpected(tool: str, name: str, where: str, takes: Mapping[str, tuple[str, ...]]) -> str:
    said = f"{_join(where, quotable(name, 60))} is not an argument of {tool}"
    elsewhere = _ELSEWHERE.get((tool, name)) if not where else None
    if elsewhere:
        return f"{said}: {elsewhere}"
    others = [t for t in takes.get(name, ()) if t != tool][:3]
    return f"{said} (it is one of {', '.join(others)})" if others and not where else said


def _form_of(pattern: str, description: str) -> str:
    if pattern.startswith("^https?://"):
        return "must be a URL starting with https:// (or http://)"
    if pattern.startswith("^https://"):
        return "must be a URL starting with https://"
    if "a-z0-9" in pattern and "A-Z" not in pattern:
        return f"must be lowercase letters, digits and hyphens ({description.rstrip('.')})" if description else \
            "must be lowercase letters, digits and hyphens"
    return f"is not in the expected form ({description.rstrip('.')})" if description else "is not in the expected form"


def _lister_of(error: ValidationError) -> str | None:
    for part in reversed(list(error.absolute_path)):
        if isinstance(part, str) and part in _LISTERS:
            return _LISTERS[part]
    return None


def _hint(schema: Mapping[str, Any], name: str) -> str:
    description = schema.get("properties", {}).get(name, {}).get("description")
    return f" ({description.rstrip('.')})" if isinstance(description, str) and len(description) <= 80 else ""


def _path(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return quotable(path, 200)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _quote(value: Any) -> str:
    return repr(quotable(value, 100)) if isinstance(value, str) else quotable(repr(value), 100)


def _type_words(wanted: str) -> str:
    return {"object": "an object", "array": "a list", "string": "a string", "boolean": "true or false",
            "integer": "a whole number", "number": "a number", "null": "null"}.get(wanted, wanted) if " or " not in wanted else wanted
