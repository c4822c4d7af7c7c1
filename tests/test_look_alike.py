"""The README's way against a StatusPal that differs from every default, end to end.

The sandbox plays a look-alike: org-scoped notices routes, other field names, affected services named by id
in a map, its own word for every notice state, times written without an offset in the page's zone, and
notices ended by setting ends_at. The operator writes by hand only what no answer can show: the routes (a
404 is all StatusPal says) and the notify field's name. check-api is then run again and again, its printed
lines applied each time, until it exits 0; with that config the whole user story runs through the tools.
"""

from __future__ import annotations

import pytest

from tests.test_check_api import assert_nothing_left, check, sandbox
from tests.test_notice_states import WORDS
from tests.test_story import stack, the_story
from tests.test_wire_mapping import ALT_NOTICES, ALT_ROUTES

LOOK_ALIKE = {"endpoints": ALT_ROUTES,
              "notices": {**ALT_NOTICES, **WORDS, "affected_ref": "id", "naive_times": "page"}}
BY_HAND = {"notify_field": ALT_NOTICES["notify_field"]}


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
async def test_check_api_prints_every_line_but_the_routes_and_notify_field_then_the_story_works(docs_index_dir, strictness) -> None:
    notices = dict(BY_HAND)
    async with sandbox(strictness, LOOK_ALIKE) as (url, state):
        for _ in range(6):
            code, report = await check(url, wire={"endpoints": ALT_ROUTES, "notices": notices})
            assert_nothing_left(state)
            if code == 0:
                break
            # The routes given are right: a route line may only be an action route ending by PATCH replaces.
            assert {f["key"] for f in report["config"] if f["placeholder"]} <= {"notices_resolve", "notices_close"}, report
            new = {f["key"]: f["value"] for f in report["config"] if not f["placeholder"]}
            assert new, report  # every run that fails prints a line to apply
            assert not set(new) & set(BY_HAND), new  # never a line contradicting what only the operator knows
            notices.update(new)
    assert code == 0, report
    assert notices == LOOK_ALIKE["notices"]
    wire = {"endpoints": ALT_ROUTES, "notices": notices}
    async with stack(docs_index_dir, strictness, sandbox_wire=LOOK_ALIKE, gateway_wire=wire) as gateway:
        await the_story(gateway.mcp_url)
