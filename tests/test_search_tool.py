"""`search_docs` and the docs resources, first as functions, then through a real gateway with the `mcp` client."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx2
import pytest
from jsonschema import Draft202012Validator

from gateway.config import DEFAULT_CONFIG, Settings, load_settings
from gateway.protocol.resources import DEFAULT_PAGE_SIZE, DocsResources
from gateway.tools.base import ToolContext, ToolError
from gateway.tools.docs import TOOLS
from search.corpus import load_pages
from search.lifecycle import DocsIndex
from search.settings import SearchSettings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "docs_corpus"
BASE = SearchSettings().docs_base_url
DEMO_KEY = "sk_sandbox_demo"

TOOL = TOOLS[0]
OUTPUT = Draft202012Validator(TOOL.output_schema)
INPUT = Draft202012Validator(TOOL.input_schema)



def settings_for(index_dir: Path, **search):
    return load_settings(DEFAULT_CONFIG, env={}, overrides={"search": {"index_dir": str(index_dir), "docs_base_url": BASE, **search}})


# --- the tool as a function -----------------------------------------------------------------------------


def test_the_definition_tells_the_truth():
    assert TOOL.name == "search_docs" and not TOOL.needs_upstream
    wire = TOOL.definition()
    assert wire["annotations"] == {"readOnlyHint": True, "openWorldHint": False}
    assert wire["inputSchema"]["required"] == ["query"]
    assert not list(INPUT.iter_errors({"query": "x", "limit": 20}))
    for bad in ({}, {"query": ""}, {"query": "x", "limit": 0}, {"query": "x", "limit": 21}, {"query": "x", "page": 2}):
        assert list(INPUT.iter_errors(bad)), bad


async def test_results_match_the_output_schema(docs_index):
    out = await TOOL.handler(ToolContext(docs=docs_index), {"query": "which statuses can a service have?"})
    assert not list(OUTPUT.iter_errors(out))
    assert len(out["results"]) == 5 and "message" not in out
    assert out["results"][0]["url"] == f"{BASE}/services#service-statuses"


async def test_limit_and_messages_come_through(docs_index):
    out = await TOOL.handler(ToolContext(docs=docs_index), {"query": "webhok secrt", "limit": 2})
    assert len(out["results"]) == 2 and "webhook" in out["message"]
    empty = await TOOL.handler(ToolContext(docs=docs_index), {"query": "***"})
    assert empty["results"] == [] and "no searchable words" in empty["message"]
    assert not list(OUTPUT.iter_errors(empty))


async def test_a_pasted_document_is_searched_and_echoed_short(docs_index):
    out = await TOOL.handler(ToolContext(docs=docs_index), {"query": "pagination per_page " * 1000})
    assert out["results"] and len(out["query"]) <= 301 and "Only the first" in out["message"]


async def test_a_missing_index_is_an_error_the_model_can_relay(tmp_path):
    with pytest.raises(ToolError, match="build-index"):
        await TOOL.handler(ToolContext(docs=DocsIndex(tmp_path, SearchSettings())), {"query": "webhook"})


# --- resources as functions -----------------------------------------------------------------------------


def loaded(settings: Settings, page_size: int = DEFAULT_PAGE_SIZE) -> DocsResources:
    resources = DocsResources.from_settings(settings, page_size)
    resources.load()
    return resources


def test_resources_list_every_page_across_cursors(docs_index_dir):
    resources = loaded(settings_for(docs_index_dir), page_size=4)
    seen, cursor, rounds = [], None, 0
    while True:
        items, cursor = resources.list(cursor)
        seen.extend(items)
        rounds += 1
        if cursor is None:
            break
        assert not cursor.isdigit(), "the cursor should be opaque, not an offset clients could edit"
    pages = load_pages(CORPUS)
    assert rounds == -(-len(pages) // 4)
    assert [i["uri"] for i in seen] == [f"statuspal-docs://pages/{p.slug}" for p in pages]
    for item in seen:
        assert set(item) == {"uri", "name", "title", "description", "mimeType"}
        assert item["mimeType"] == "text/markdown" and item["title"] and item["description"]


@pytest.mark.parametrize(
    "cursor",
    ["", "garbage", "!!!", "ünï", base64.urlsafe_b64encode(b"docs:abc").decode(), base64.urlsafe_b64encode(b"other:4").decode(),
     base64.urlsafe_b64encode(b"docs:-1").decode(), base64.urlsafe_b64encode(b"docs:999").decode()],
)
def test_a_cursor_we_did_not_issue_is_refused(docs_index_dir, cursor):
    resources = loaded(settings_for(docs_index_dir), page_size=4)
    with pytest.raises(ValueError, match="[Ii]nvalid cursor"):
        resources.list(cursor)


def test_read_returns_the_page_with_absolute_links(docs_index_dir):
    resources = loaded(settings_for(docs_index_dir))
    page = resources.read("statuspal-docs://pages/containers")
    assert page["mimeType"] == "text/markdown" and page["uri"] == "statuspal-docs://pages/containers"
    assert page["text"].startswith("# Containers (regions)\n")
    assert f"({BASE}/notices#affected-services-and-regions)" in page["text"]
    assert "slug:" not in page["text"], "front matter is not part of the page"
    for unknown in ("statuspal-docs://pages/nope", "statuspal-docs://pages/", "https://docs.example.test/containers", ""):
        assert resources.read(unknown) is None
    [template] = resources.templates()
    assert template["uriTemplate"] == "statuspal-docs://pages/{slug}" and template["mimeType"] == "text/markdown"


async def test_a_missing_corpus_stops_start_up_not_create_app(tmp_path):
    """Building the application reads nothing; its start-up hook reads the pages and stops on a bad corpus_dir
    with the one-line ConfigError the command line prints (exit 2)."""
    from aiohttp import web

    from gateway.app import create_app
    from gateway.config import ConfigError

    app = create_app(settings_for(tmp_path, corpus_dir=str(tmp_path / "none")))
    runner = web.AppRunner(app)
    with pytest.raises(ConfigError, match=r"^\[search\] corpus_dir: .*none"):
        await runner.setup()
    await runner.cleanup()


# --- through a real gateway -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def docs_gateway(make_module_gateway, docs_index_dir):
    """Shared by the module: searching and reading pages change nothing in the gateway."""
    return await make_module_gateway(search={"index_dir": str(docs_index_dir), "docs_base_url": BASE})


async def connect(url: str, key: str = DEMO_KEY, mode: str = "auto"):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    return Client(streamable_http_client(url, http_client=http), mode=mode)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_an_mcp_client_searches_the_docs_and_reads_pages(docs_gateway, mode):
    async with await connect(docs_gateway.mcp_url, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["search_docs"].annotations.read_only_hint is True
        result = await client.call_tool("search_docs", {"query": "how do I rotate a webhook's signing secret?", "limit": 3})
        assert not result.is_error
        hits = result.structured_content["results"]
        assert len(hits) == 3 and hits[0]["url"] == f"{BASE}/webhooks#rotate-the-signing-secret"

        listed = await client.list_resources()
        uris = [r.uri for r in listed.resources]
        assert "statuspal-docs://pages/webhooks" in uris
        read = await client.read_resource("statuspal-docs://pages/webhooks")
        assert read.contents[0].text.startswith("# Outgoing webhooks")
        assert read.contents[0].mime_type == "text/markdown"


async def test_search_docs_works_when_statuspal_is_down_but_still_needs_auth(docs_gateway, sandbox_admin):
    async with await connect(docs_gateway.mcp_url, mode="legacy") as client:
        # The key is checked with StatusPal once when the connection starts; from now on every upstream call fails.
        await sandbox_admin.faults(error_rate=1.0, error_status=503)
        upstream = await client.call_tool("list_status_pages", {})
        assert upstream.is_error
        result = await client.call_tool("search_docs", {"query": "pagination"})
        assert not result.is_error and result.structured_content["results"]
    async with httpx2.AsyncClient() as http:
        anonymous = await http.post(
            docs_gateway.mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search_docs", "arguments": {"query": "x"}}},
            headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"},
        )
    assert anonymous.status_code == 401 and "resource_metadata" in anonymous.headers["www-authenticate"]


async def test_a_bad_resources_cursor_is_invalid_params_over_the_wire(docs_gateway):
    async with httpx2.AsyncClient() as http:
        answer = await http.post(
            docs_gateway.mcp_url,
            json={"jsonrpc": "2.0", "id": 7, "method": "resources/list", "params": {"cursor": "not-ours"}},
            headers={
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-06-18",
                "Authorization": f"Bearer {DEMO_KEY}",
            },
        )
    body = answer.json()
    assert body["id"] == 7 and body["error"]["code"] == -32602 and "cursor" in body["error"]["message"].lower()
