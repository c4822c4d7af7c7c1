"""The MCP Inspector CLI (2.x, Node 22) against the real gateway, as a developer checks a server by hand.

It is an independent client: it lists our tools with the bearer key in `--header`, lints their schemas for
portability across clients with `--strict`, calls a read tool, and without credentials reports that the
server wants authorization.
"""

from __future__ import annotations

import json

import pytest

from gateway.web.services import GATEWAY
from tests.conformance.node import INSPECTOR, Completed, require, run_node
from tests.conftest import DEMO_KEY

pytestmark = pytest.mark.node

AUTH_HEADER = f"Authorization: Bearer {DEMO_KEY}"
# The catalogue a user was promised (one tool per task, plus docs search): a tool missing here is a visible gap.
PROMISED_TOOLS = {
    "list_status_pages", "get_status_page", "create_status_page", "update_status_page", "delete_status_page",
    "list_services", "get_service", "create_service", "update_service", "delete_service",
    "list_containers", "get_container", "create_container", "update_container", "delete_container",
    "list_notices", "get_notice", "create_incident", "schedule_maintenance", "create_info_notice", "post_notice_update",
    "update_notice",
    "resolve_incident", "close_maintenance", "delete_notice",
    "list_webhooks", "get_webhook", "create_webhook", "update_webhook", "rotate_webhook_secret", "delete_webhook",
    "setup_status_page", "search_docs",
}


async def inspect(gateway, tmp_path, *args: str) -> Completed:
    require(INSPECTOR)
    return await run_node(INSPECTOR, "--cli", gateway.mcp_url, "--transport", "http", *args, home=tmp_path)


def json_out(run: Completed) -> dict:
    assert run.returncode == 0, run.describe()
    try:
        return json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"the Inspector printed no JSON:\n{run.describe()}")


async def test_lists_every_tool_with_the_bearer_header(gateway, tmp_path):
    run = await inspect(gateway, tmp_path, "--method", "tools/list", "--header", AUTH_HEADER)
    names = [t["name"] for t in json_out(run)["tools"]]
    catalogue = [t.name for t in gateway.app[GATEWAY].catalogue.tools]
    assert names == catalogue, "tools/list through the Inspector differs from the catalogue (order included)"
    assert not PROMISED_TOOLS - set(names), f"promised tools missing: {sorted(PROMISED_TOOLS - set(names))}"


async def test_strict_schema_lint_passes(gateway, tmp_path):
    # --strict exits 6 and explains each error-severity portability problem (path, issue, fix) on stderr.
    run = await inspect(gateway, tmp_path, "--method", "tools/list", "--header", AUTH_HEADER, "--strict")
    assert run.returncode == 0, f"Inspector --strict found tool-schema portability problems:\n{run.describe()}"
    # Warnings do not fail --strict, but each is a schema some client reads worse (an untyped field, a type list).
    assert "Warning:" not in run.stderr, f"Inspector --strict warned:\n{run.describe()}"
    assert json.loads(run.stdout)["tools"]


async def test_creates_a_page_then_lists_it(gateway, tmp_path):
    """A write and a read through an independent client: what one call made, the next one sees."""
    created = json_out(await inspect(
        gateway, tmp_path, "--method", "tools/call", "--tool-name", "create_status_page", "--header", AUTH_HEADER,
        "--tool-arg", "name=Inspector Status", "subdomain=inspector-status", "timezone=UTC",
        "website_url=https://inspector.example",
    ))
    assert created.get("isError") is not True, created
    assert created["structuredContent"]["subdomain"] == "inspector-status"

    listed = json_out(await inspect(
        gateway, tmp_path, "--method", "tools/call", "--tool-name", "list_status_pages", "--header", AUTH_HEADER
    ))
    assert listed.get("isError") is not True, listed
    pages = listed["structuredContent"]["items"]
    assert [(p["subdomain"], p["name"]) for p in pages] == [("inspector-status", "Inspector Status")]
    # The model reads the text twin of the structured result: the same JSON.
    assert json.loads(listed["content"][0]["text"]) == listed["structuredContent"]


async def test_without_credentials_reports_authorization_required(gateway, tmp_path):
    run = await inspect(gateway, tmp_path, "--method", "tools/list")
    assert run.returncode != 0, run.describe()
    # The gateway's 401 challenge makes the CLI want an interactive OAuth login, which it refuses without a TTY.
    assert '"code":"auth_required"' in run.stdout + run.stderr, run.describe()
    assert '"tools"' not in run.stdout
