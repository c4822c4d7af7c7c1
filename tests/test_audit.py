"""The audit trail, field by field: a story of writes (create, update, resolve through a form, a refused delete),
a sign-in and a token grant, on a real gateway and sandbox; the caller's history tool; `key-id`."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from gateway.auth.identity import key_id
from gateway.observability.audit import AUDIT_LOGGER
from tests.mcp_wire import DEMO_KEY
from tests.oauth_browser import Browser, pkce, query_of, register
from tests.test_confirm import FORMS, PAGE, _accept, _form_round, _incident, _rpc, _setup, _tool

REDIRECT = "http://127.0.0.1:7777/cb"
CLIENT = "client"  # X-MCP-Confirm: the person leaves confirmation to the client


def _events(caplog) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == AUDIT_LOGGER]


async def test_a_story_leaves_one_event_per_write_with_who_what_how_and_the_outcome(make_gateway, sandbox_admin, caplog):
    await sandbox_admin.reset()
    gateway = await make_gateway(audit={"history": True})
    me = key_id(DEMO_KEY)
    async with aiohttp.ClientSession() as http:
        slugs = await _setup(http, gateway.mcp_url)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
            created = await _tool(http, gateway.mcp_url, "create_incident", _incident(slugs), headers={"X-MCP-Confirm": CLIENT})
            notice = created.result["structuredContent"]["id"]
            await _tool(http, gateway.mcp_url, "update_notice", {"subdomain": PAGE, "notice_id": notice, "title": "API errors"},
                        headers={"X-MCP-Confirm": CLIENT})
            ending = {"subdomain": PAGE, "notice_id": notice, "message": "Fixed.", "notify": False}
            state, _ = await _form_round(http, gateway.mcp_url, ending, "resolve_incident")
            await _rpc(http, gateway.mcp_url, "tools/call", _accept(state, ending, "resolve_incident"), FORMS)
            state, _ = await _form_round(http, gateway.mcp_url, {"subdomain": PAGE}, "delete_status_page")
            await _rpc(http, gateway.mcp_url, "tools/call",
                       _accept(state, {"subdomain": PAGE}, "delete_status_page", {"publish": True, "typed_name": "wrong"}), FORMS)
        create, update, resolve, delete = _events(caplog)

        assert create["event"] == "tool_write" and create["tool"] == "create_incident" and create["outcome"] == "applied"
        assert create["key_id"] == me and create["surface"] == "/mcp" and create["confirmation"] == "none"
        assert create["targets"] == {"page": PAGE, "notice": notice}
        assert create["arguments"]["title"] == "Elevated API errors" and create["arguments"]["notify"] is False
        assert len(create["arguments"]["message"]) <= 203 and "request_id" in create and isinstance(create["time"], float)
        assert DEMO_KEY not in str(create)

        assert (update["tool"], update["outcome"], update["targets"]) == ("update_notice", "applied", {"page": PAGE, "notice": notice})
        assert (resolve["tool"], resolve["outcome"], resolve["confirmation"]) == ("resolve_incident", "applied", "form")
        assert (delete["tool"], delete["outcome"], delete["targets"]) == ("delete_status_page", "refused", {"page": PAGE})
        assert delete["detail"] == {"why": "refused"}

        # The caller's own history, newest first; another key sees none of it.
        history = await _tool(http, gateway.mcp_url, "list_audit_events", {"limit": 10})
        kept = history.result["structuredContent"]["items"]
        assert [e["tool"] for e in kept] == ["delete_status_page", "resolve_incident", "update_notice", "create_incident",
                                             "setup_status_page"]
        await sandbox_admin.add_key("sk_test_someone_else")
        theirs = await _tool(http, gateway.mcp_url, "list_audit_events", {}, key="sk_test_someone_else")
        assert theirs.result["structuredContent"]["items"] == []
        # On a page-scoped URL, only that page's events.
        scoped = await _tool(http, gateway.mcp_url + "/pages/other-page", "list_audit_events", {})
        assert scoped.result["structuredContent"]["items"] == []


async def test_history_is_off_by_default_and_its_tool_absent(make_gateway, sandbox_admin):
    await sandbox_admin.reset()
    gateway = await make_gateway()
    async with aiohttp.ClientSession() as http:
        listed = await _rpc(http, gateway.mcp_url, "tools/list", {}, {})
        assert "list_audit_events" not in [t["name"] for t in listed.result["tools"]]


async def test_a_sign_in_and_its_grant_are_audited(make_gateway, sandbox_admin, caplog):
    await sandbox_admin.reset()
    gateway = await make_gateway()
    async with aiohttp.ClientSession() as http:
        client = await register(http, gateway.url, [REDIRECT], client_name="Acme Assistant")
        verifier, challenge = pkce()
        query = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "state": "s",
                 "code_challenge": challenge, "code_challenge_method": "S256", "resource": gateway.mcp_url,
                 "scope": "statuspal:read statuspal:write"}
        with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
            browser = Browser(http, gateway.url)
            page = await browser.open(f"{gateway.url}/authorize?{urlencode(query)}")
            await browser.submit(page.fields, "sk_test_not_a_known_key", "full")
            page = await browser.open(f"{gateway.url}/authorize?{urlencode(query)}")
            status, headers, _ = await browser.submit(page.fields, DEMO_KEY, "full")
            assert status == 302
            location = headers["Location"]
            form = {"grant_type": "authorization_code", "code": query_of(location)["code"], "redirect_uri": REDIRECT,
                    "client_id": client["client_id"], "code_verifier": verifier, "resource": gateway.mcp_url}
            async with http.post(f"{gateway.url}/token", data=form) as r:
                assert r.status == 200, await r.text()
        refused, signed_in, granted = _events(caplog)
    assert (refused["event"], refused["outcome"], refused["key_id"]) == ("sign_in", "refused", key_id("sk_test_not_a_known_key"))
    assert signed_in["event"] == "sign_in" and signed_in["outcome"] == "ok" and signed_in["key_id"] == key_id(DEMO_KEY)
    assert signed_in["client_id"] == client["client_id"] and signed_in["client_name"] == "Acme Assistant"
    assert signed_in["client_verified"] is False and signed_in["surface"] == "/mcp" and signed_in["detail"] == {"access": "full"}
    assert granted["event"] == "grant" and granted["client_name"] == "Acme Assistant"
    assert granted["detail"] == {"scope": "statuspal:read statuspal:write"}


@pytest.mark.parametrize(("stdin", "code"), [(DEMO_KEY + "\n", 0), ("not a key\n", 2), ("", 2)])
def test_key_id_reads_the_key_from_standard_input(stdin, code):
    done = subprocess.run([sys.executable, "-m", "gateway", "key-id"], input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == code
    if code == 0:
        assert done.stdout.strip() == key_id(DEMO_KEY)
    else:
        assert "standard input" in done.stderr and done.stdout == ""
    assert DEMO_KEY not in done.stderr
