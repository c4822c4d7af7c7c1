"""Every StatusPal tool definition is well-formed, and its schema refuses what StatusPal would refuse.

These read exactly what `tools/list` shows, so a tool a model cannot use correctly (an undescribed
argument, a notify flag with a default, a write tool that claims to be read-only) fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gateway.auth.scopes import READ, WRITE
from gateway.tools.base import Tool
from gateway.tools.catalogue import Catalogue, build_catalogue
from tests.conftest import shared_arguments

# The StatusPal tools: every tool but the docs search, which calls no StatusPal endpoint.
TOOLS: tuple[Tool, ...] = tuple(t for t in build_catalogue().tools if t.needs_upstream)
BY_NAME = {t.name: t for t in TOOLS}
EXPECTED = (
    "list_status_pages get_status_page create_status_page update_status_page delete_status_page "
    "list_services get_service create_service update_service delete_service "
    "list_containers get_container create_container update_container delete_container "
    "list_notices get_notice create_incident schedule_maintenance create_info_notice post_notice_update update_notice resolve_incident "
    "close_maintenance delete_notice "
    "list_webhooks get_webhook create_webhook update_webhook rotate_webhook_secret delete_webhook "
    "setup_status_page"
).split()
NOTIFYING = {
    "create_incident", "schedule_maintenance", "create_info_notice", "post_notice_update", "resolve_incident",
    "close_maintenance",
}
# The openWorldHint rule (gateway/tools/base.py): true exactly when the call's effect leaves StatusPal. Each such
# tool with what leaves: subscriber messages (notify) and webhook deliveries.
LEAVES_STATUSPAL = {
    **{name: "subscribers and notice.* webhooks" for name in NOTIFYING},
    "update_notice": "notice.updated and service.status_changed webhooks",
    "delete_notice": "service.status_changed webhooks when the statuses it caused are lifted",
    "create_webhook": "deliveries to an outside URL",
    "update_webhook": "deliveries to a new outside URL",
    "rotate_webhook_secret": "the outside receiver rejects deliveries until it has the new secret",
}


def test_exactly_the_agreed_tools_in_a_stable_order():
    assert [t.name for t in TOOLS] == EXPECTED
    Catalogue.of(TOOLS)  # names, scopes, schema validity: the start-up check passes


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_definition_is_complete_and_valid(tool: Tool):
    wire = tool.definition()
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", wire["name"])
    assert wire["title"] and wire["title"][0].isupper()
    for key in ("inputSchema", "outputSchema"):
        Draft202012Validator.check_schema(wire[key])
        assert wire[key]["type"] == "object"
    annotations = wire["annotations"]
    # Every hint that means something explicit (clients differ on defaults): destructive and idempotent mean
    # something only on a tool that writes. The title once, at the top level where clients read it.
    if annotations["readOnlyHint"]:
        assert set(annotations) == {"readOnlyHint", "openWorldHint"}
    else:
        assert set(annotations) == {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
    assert 150 <= len(wire["description"]) <= 600, "front-loaded but not a one-liner"


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_every_argument_is_described_and_no_unknown_argument_passes(tool: Tool):
    for path, schema in _objects(tool.input_schema, "inputSchema"):
        assert schema.get("additionalProperties") is False, f"{path} accepts unknown properties"
        for name, prop in schema["properties"].items():
            assert prop.get("description"), f"{path}.{name} has no description"
        assert set(schema.get("required", ())) <= set(schema["properties"]), f"{path} requires an undefined property"


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_description_names_a_sibling_to_use_instead(tool: Tool):
    siblings = {name for name in EXPECTED if name != tool.name and re.search(rf"\b{name}\b", tool.description)}
    assert siblings, f"{tool.name} never says which other tool to use instead"
    for word in re.findall(r"(?<![.\w])[a-z]+_[a-z_]+\b", tool.description):  # not event names (notice.update_posted)
        if word.split("_")[0] in ("list", "get", "create", "update", "delete", "resolve", "close", "post", "rotate", "schedule", "setup"):
            assert word in BY_NAME, f"{tool.name} mentions a tool that does not exist: {word}"


def test_tools_that_can_message_subscribers_require_notify_with_no_default():
    having_notify = {t.name for t in TOOLS if "notify" in t.input_schema["properties"]}
    assert having_notify == NOTIFYING
    for name in NOTIFYING:
        schema = BY_NAME[name].input_schema
        assert "notify" in schema["required"]
        assert schema["properties"]["notify"]["type"] == "boolean"
        assert "default" not in schema["properties"]["notify"]
        assert BY_NAME[name].annotations.open_world, "messaging subscribers reaches outside StatusPal"


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_annotations_and_scope_tell_the_truth(tool: Tool):
    a = tool.annotations
    verb = tool.name.split("_")[0]
    if verb in ("list", "get"):
        assert (tool.scope, a.read_only, a.destructive, a.idempotent) == (READ, True, False, True)
        return
    assert tool.scope == WRITE and not a.read_only
    if verb == "delete":
        assert a.destructive and a.idempotent
    elif verb == "update":
        assert a.destructive, "an update overwrites earlier values"
        assert a.idempotent
    elif verb in ("create", "setup", "schedule", "post"):
        assert not a.destructive and not a.idempotent, "each call adds something new"
    else:  # resolve, close, rotate: final or invalidating, and another call does something again
        assert a.destructive and not a.idempotent


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_open_world_exactly_when_the_effect_leaves_statuspal(tool: Tool):
    assert tool.annotations.open_world == (tool.name in LEAVES_STATUSPAL)
    if tool.annotations.open_world:
        assert re.search(r"webhook|subscriber|notify", tool.description), "say what leaves StatusPal"


def test_list_outputs_and_delete_outputs_share_one_shape():
    for tool in TOOLS:
        props = tool.output_schema["properties"]
        if tool.name.startswith("list_"):
            assert {"items", "page", "per_page", "total_count", "total_pages"} <= set(tool.output_schema["required"])
            assert {"page", "per_page", "all"} <= set(tool.input_schema["properties"])
        if tool.name.startswith("delete_"):
            assert props["deleted"] == {"type": "boolean", "const": True}
            assert set(tool.output_schema["required"]) == {"deleted", *tool.input_schema["required"]}


def _untyped(schema: dict[str, Any], path: str) -> Iterator[str]:
    """Paths of output-schema fields that accept anything (no type) or spell a type as a list."""
    for name, field in schema.get("properties", {}).items():
        where = f"{path}.{name}"
        branches = field.get("anyOf", [field])
        if any("type" not in b or isinstance(b["type"], list) for b in branches):
            yield where
        for branch in branches:
            yield from _untyped(branch, where)
            if isinstance(branch.get("items"), dict):
                yield from _untyped(branch["items"], where + "[]")


@pytest.mark.parametrize("tool", build_catalogue().tools, ids=lambda t: t.name)
def test_every_output_field_has_one_type_or_is_that_type_or_null(tool: Tool):
    # An untyped field constrains nothing and a type list is refused by single-type dialects (Gemini): the
    # Inspector's --strict warns on both; anyOf with one type per branch is what every client reads.
    assert not list(_untyped(dict(tool.output_schema), tool.name))


def test_only_create_and_rotate_return_a_webhook_secret():
    with_secret = {t.name for t in TOOLS if "secret" in t.output_schema.get("required", ())}
    assert with_secret == {"create_webhook", "rotate_webhook_secret"}
    assert "once" in BY_NAME["create_webhook"].output_schema["properties"]["secret"]["description"]


REFUSED = [
    ("list_status_pages", {"per_page": 101}),
    ("list_status_pages", {"page": 0}),
    ("list_status_pages", {"pages": 2}),
    ("get_status_page", {}),
    ("get_status_page", {"subdomain": "a/b"}),
    ("create_status_page", {"name": "A", "subdomain": "Acme", "timezone": "UTC", "website_url": "https://a.example"}),
    ("create_status_page", {"name": "A", "subdomain": "acme", "timezone": "UTC", "website_url": "ftp://a.example"}),
    ("create_service", {"subdomain": "acme", "name": "API", "slug": "Has Space"}),
    ("create_incident", {"subdomain": "acme", "title": "t", "severity": "critical", "message": "m", "affected": [{"service_slug": "api"}], "notify": True}),
    ("create_incident", {"subdomain": "acme", "title": "t", "severity": "major", "message": "m", "affected": [{"service_slug": "api"}]}),
    ("create_incident", {"subdomain": "acme", "title": "t", "severity": "major", "message": "m", "affected": [], "notify": False}),
    ("create_incident", {"subdomain": "acme", "title": "t", "severity": "major", "message": "m", "affected": [{"service": "api"}], "notify": False}),
    ("create_incident", {"subdomain": "acme", "title": "t", "severity": "major", "message": "m", "affected": [{"service_slug": "api"}], "notify": "yes"}),
    ("resolve_incident", {"subdomain": "acme", "notice_id": "n1"}),
    ("create_webhook", {"name": "w", "url": "http://hooks.example", "events": ["notice.created"]}),
    ("create_webhook", {"name": "w", "url": "https://hooks.example", "events": []}),
    ("create_webhook", {"name": "w", "url": "https://hooks.example", "events": ["incident.created"]}),
    ("get_webhook", {"webhook_id": "123"}),
    ("setup_status_page", {"name": "A", "subdomain": "acme", "timezone": "UTC", "website_url": "https://a.example", "services": []}),
]
ACCEPTED = [
    ("list_status_pages", {}),
    ("list_notices", {"subdomain": "acme", "notice_type": "incident", "state": "open", "all": True}),
    ("create_incident", {"subdomain": "acme", "title": "t", "severity": "major", "message": "m",
                         "affected": [{"service_slug": "api", "container_slugs": ["eu"]}], "notify": False}),
    ("update_service", {"subdomain": "acme", "slug": "api", "description": None}),
    ("resolve_incident", {"subdomain": "acme", "notice_id": "n1", "notify": False}),
    ("setup_status_page", {"name": "A", "subdomain": "acme", "timezone": "UTC", "website_url": "https://a.example", "services": ["API"]}),
]


@pytest.mark.parametrize(("name", "args"), REFUSED, ids=lambda v: v if isinstance(v, str) else "")
def test_schema_refuses_bad_arguments(name: str, args: dict[str, Any]):
    assert list(shared_arguments().reference(name).iter_errors(args)), f"{name} accepted {args}"


@pytest.mark.parametrize(("name", "args"), ACCEPTED, ids=lambda v: v if isinstance(v, str) else "")
def test_schema_accepts_good_arguments(name: str, args: dict[str, Any]):
    assert not list(shared_arguments().reference(name).iter_errors(args))


def _objects(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema nested in `schema` (through properties and array items), with its path."""
    if schema.get("type") == "object" or "properties" in schema:
        yield path, schema
        for name, prop in schema.get("properties", {}).items():
            yield from _objects(prop, f"{path}.{name}")
    if "items" in schema:
        yield from _objects(schema["items"], f"{path}[]")


# The rubric checks a machine can make (shared/reference/tool-quality.md), over every tool tools/list shows, the
# docs search included. The judgement calls (is the usage guidance enough, is the behaviour said) stay with a
# reader; what is here fails on the slips a registry's grader scores lowest.
ALL_TOOLS: tuple[Tool, ...] = build_catalogue().tools
VERBS = ("list", "get", "create", "update", "delete", "resolve", "close", "post", "rotate", "schedule", "setup", "search")
# Words that carry no meaning of their own in a short parameter description.
_FILLER = {"a", "an", "the", "this", "its", "of", "by", "for", "to", "in", "on", "or", "and", "is"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _described(schema: dict[str, Any], path: str) -> Iterator[tuple[str, str, str]]:
    """(path, property name, description) of every described property, nested ones included."""
    for object_path, node in _objects(schema, path):
        for name, prop in node.get("properties", {}).items():
            if prop.get("description"):
                yield f"{object_path}.{name}", name, prop["description"]


def _property_names(schema: dict[str, Any]) -> set[str]:
    return {name for _, node in _objects(schema, "") for name in node.get("properties", {})}


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda t: t.name)
def test_no_description_merely_restates_a_name(tool: Tool):
    # Purpose: a description that only repeats the tool's name or title is capped at 2. Parameters: "Email." on
    # email_enabled tells the model nothing the name did not.
    first_sentence = re.split(r"(?<=\.)\s", tool.description, maxsplit=1)[0]
    beyond = _words(first_sentence) - _words(tool.name.replace("_", " ")) - _words(tool.title) - _FILLER
    assert len(beyond) >= 3, f"{tool.name}: the first sentence only restates the name: {first_sentence!r}"
    for schema in (tool.input_schema, tool.output_schema):
        for path, name, description in _described(dict(schema), tool.name):
            said = _words(description) - _FILLER
            stems = name.split("_")
            restated = all(any(part.startswith(w) or w.startswith(part) for part in stems) for w in said)
            assert not restated, f"{path}: {description!r} only restates the name"


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda t: t.name)
def test_descriptions_add_what_schema_and_annotations_do_not_say(tool: Tool):
    # No credit for repeating the schema's types or the annotations' hints; the words cost every conversation.
    repeats_annotations = re.compile(r"\b(read-only|readonly|idempotent|destructive|open.world)\b", re.I)
    assert not repeats_annotations.search(tool.description), f"{tool.name} restates its annotations"
    for schema in (tool.input_schema, tool.output_schema):
        for path, _, description in _described(dict(schema), tool.name):
            assert not re.search(r"\b(string|integer|boolean|array|object)\b", description), f"{path} restates its type"
            assert len(description) <= 120, f"{path}: a parameter description is a phrase, not a paragraph"


def test_every_identifier_a_description_names_exists():
    # Describing a parameter, field or tool that does not exist scores 1: every snake_case word in a tool's
    # description is a tool, or a property some tool's schema defines (a list item's fields are the get_ tool's).
    known = {t.name for t in ALL_TOOLS}
    for tool in ALL_TOOLS:
        known |= _property_names(dict(tool.input_schema)) | _property_names(dict(tool.output_schema))
    for tool in ALL_TOOLS:
        texts = [tool.description] + [d for s in (tool.input_schema, tool.output_schema) for *_, d in _described(dict(s), tool.name)]
        for text in texts:
            for word in re.findall(r"(?<![.\w])[a-z]+_[a-z_]*[a-z]\b(?!\.[a-z])", text):
                assert word in known, f"{tool.name} names {word!r}, which no tool or schema defines"


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda t: t.name)
def test_description_agrees_with_the_annotations(tool: Tool):
    # A description that contradicts the annotations scores 1 on behaviour. A reading tool says it reads; a tool
    # that cannot destroy never says it erases; one that can (beyond an update, whose overwrite the server
    # instructions state once for all) says what is lost for good.
    a = tool.annotations
    loss = re.compile(r"\b(permanently|erase|for good|stops working)\b", re.I)
    if a.read_only:
        assert tool.description.split()[0] in ("List", "Get", "Search"), f"{tool.name} is read-only but opens with a write"
    elif not a.destructive:
        assert not loss.search(tool.description), f"{tool.name} is not destructive but says it destroys"
    elif not tool.name.startswith("update_"):
        assert loss.search(tool.description), f"{tool.name} is destructive but never says what is lost for good"


def test_one_naming_convention_and_no_lifecycle_dead_end():
    # Coherence: verb_noun throughout, and a resource that can be created and listed can also be changed and removed.
    names = {t.name for t in ALL_TOOLS}
    for name in names:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", name) and name.split("_")[0] in VERBS, f"{name} is not verb_noun"
    for name in names:
        if name.startswith("create_"):
            noun = name.removeprefix("create_")
            if f"list_{noun}s" in names:
                assert {f"get_{noun}", f"update_{noun}", f"delete_{noun}"} <= names, f"{noun}: a lifecycle dead end"
