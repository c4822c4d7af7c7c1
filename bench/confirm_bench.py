"""What confirming a write costs StatusPal: the upstream calls of a confirmed write, per channel.

    python -m bench.confirm_bench

A confirmed write makes the reads its preview needs, once per draft (the target, the page, and for a notice that
affects services the page's services and regions), plus one re-read of the target before the write, plus the
write and its verification. Shown with `create_incident` and `resolve_incident` through a gateway process and a
sandbox process: once with no channel (the client's own approval, today's cost), once through the publish preview
(the call, then `publish_draft`), once through a 2026-07-28 form (the call, then its retry). The calls are counted
by the sandbox itself (its request log), not inferred. Nothing here is a test.
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from bench.processes import Servers
from gateway.config import DEFAULT_CONFIG, load_settings
from search.build import build_index

DEMO_KEY = "sk_sandbox_demo"
PAGE = "bench-confirm"
MODERN = "2026-07-28"
APPS: dict[str, Any] = {"extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}}
FORMS: dict[str, Any] = {"elicitation": {"form": {}}}


def _post(url: str, method: str, params: dict[str, Any], capabilities: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"}}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    sent = {"Authorization": f"Bearer {DEMO_KEY}", "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN, "Mcp-Method": method, "Mcp-Name": params.get("name", ""), **(headers or {})}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=sent, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["result"]


def _log(sandbox: str, clear: bool = False) -> list[dict[str, Any]]:
    if clear:
        urllib.request.urlopen(urllib.request.Request(f"{sandbox}/_sandbox/requests", method="DELETE"), timeout=10).close()
        return []
    with urllib.request.urlopen(f"{sandbox}/_sandbox/requests", timeout=10) as response:
        body = json.loads(response.read())
    return body["data"] if isinstance(body, dict) and "data" in body else body


def _counted(sandbox: str, url: str, params: dict[str, Any], capabilities: dict[str, Any],
             headers: dict[str, str] | None = None) -> tuple[Any, Counter[str]]:
    """One tools/call, and the upstream calls it made by kind."""
    _log(sandbox, clear=True)
    result = _post(url, "tools/call", params, capabilities, headers)
    return result, Counter("read" if entry.get("method") == "GET" else "write" for entry in _log(sandbox))


def _arguments(mcp: str, tool: str, incident: dict[str, Any], by_client: dict[str, str]) -> dict[str, Any]:
    """Fresh arguments for one measured call: resolving needs an open incident of its own each time."""
    if tool == "create_incident":
        return incident
    made = _post(mcp, "tools/call", {"name": "create_incident", "arguments": incident}, {}, by_client)
    return {"subdomain": PAGE, "notice_id": made["structuredContent"]["id"], "message": "Fixed.", "notify": False}


def main() -> int:
    settings = load_settings(DEFAULT_CONFIG, env={})
    with tempfile.TemporaryDirectory(prefix="statuspal-bench-confirm-") as tmp, Servers(Path(tmp)) as servers:
        index = Path(tmp) / "index"
        build_index(settings.path(settings.search.corpus_dir), index, settings.search.docs_base_url)
        sandbox = servers.sandbox()
        mcp = servers.gateway(sandbox, index).url + "/mcp"
        by_client = {"X-MCP-Confirm": "client"}
        setup = _post(mcp, "tools/call", {"name": "setup_status_page", "arguments": {
            "name": "Bench", "subdomain": PAGE, "timezone": "UTC", "website_url": "https://example.com",
            "services": ["API"], "regions": ["EU"]}}, {})
        created = setup["structuredContent"]["created"]
        incident = {"subdomain": PAGE, "title": "Bench incident", "severity": "minor", "message": "Investigating.",
                    "affected": [{"service_slug": created["services"][0]["slug"],
                                  "container_slugs": [created["containers"][0]["slug"]]}], "notify": False}
        print("upstream calls per confirmed write, counted by the sandbox (reads / writes)", flush=True)
        for tool in ("create_incident", "resolve_incident"):
            args = _arguments(mcp, tool, incident, by_client)
            _, plain = _counted(sandbox, mcp, {"name": tool, "arguments": args}, {}, by_client)
            args = _arguments(mcp, tool, incident, by_client)
            deferred, preview = _counted(sandbox, mcp, {"name": tool, "arguments": args}, APPS)
            publish_params = {"name": "publish_draft", "arguments": {"draft": deferred["_meta"]["statuspal/draft"]}}
            _, publish = _counted(sandbox, mcp, publish_params, APPS)
            args = _arguments(mcp, tool, incident, by_client)
            asked, form_preview = _counted(sandbox, mcp, {"name": tool, "arguments": args}, FORMS)
            answer = {"name": tool, "arguments": args, "requestState": asked["requestState"],
                      "inputResponses": {"confirm": {"action": "accept", "content": {"publish": True}}}}
            _, retry = _counted(sandbox, mcp, answer, FORMS)
            print(f"  {tool:18} no channel        {plain['read']:2} / {plain['write']}", flush=True)
            print(f"  {tool:18} publish preview   {preview['read']:2} / {preview['write']}  for the preview, then "
                  f"{publish['read']:2} / {publish['write']} to publish (re-read + write + its verification)", flush=True)
            print(f"  {tool:18} form              {form_preview['read']:2} / {form_preview['write']}  for the form, then "
                  f"{retry['read']:2} / {retry['write']} on the retry", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
