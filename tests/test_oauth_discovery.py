"""Discovery as clients do it: from a 401 on /mcp to the metadata documents, every path variant, and CORS.

Each variant a real client probes is pinned down deliberately: served (with the canonical resource), or a
JSON 404 that lets the client move on. Never HTML, never a redirect.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import RunningServer

ORIGIN = "http://inspector.test:6274"
PRM_PATHS = ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp/"]
AS_PATHS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]


@pytest.fixture(scope="module")
async def gw(make_module_gateway) -> RunningServer:
    """Shared by the module: discovery only reads the gateway's settings."""
    return await make_module_gateway(server={"cors_origins": (ORIGIN,)})


async def get(url: str, **kw) -> tuple[int, Any, str]:
    async with aiohttp.ClientSession() as http:
        async with http.request(kw.pop("method", "GET"), url, allow_redirects=False, **kw) as r:
            return r.status, r.headers, await r.text()


@pytest.mark.parametrize("path", PRM_PATHS)
async def test_protected_resource_metadata_names_exactly_our_mcp_url(gw: RunningServer, path: str) -> None:
    status, headers, body = await get(gw.url + path)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert orjson.loads(body) == {
        "resource": gw.mcp_url,  # no trailing slash, identical to the challenge's resource
        "authorization_servers": [gw.url],
        "scopes_supported": ["statuspal:read", "statuspal:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "StatusPal MCP",
    }


@pytest.mark.parametrize("path", AS_PATHS)
async def test_authorization_server_metadata_has_what_clients_require(gw: RunningServer, path: str) -> None:
    status, _, body = await get(gw.url + path)
    doc = orjson.loads(body)
    assert status == 200
    assert doc["issuer"] == gw.url
    assert doc["authorization_endpoint"] == f"{gw.url}/authorize"
    assert doc["token_endpoint"] == f"{gw.url}/token"
    assert doc["registration_endpoint"] == f"{gw.url}/register"
    assert doc["revocation_endpoint"] == f"{gw.url}/revoke"
    assert doc["code_challenge_methods_supported"] == ["S256"]  # MCP clients must refuse to proceed without it
    # Claude uses client metadata documents only when "none" is listed here.
    assert doc["token_endpoint_auth_methods_supported"] == ["none"]
    assert doc["client_id_metadata_document_supported"] is True
    assert doc["authorization_response_iss_parameter_supported"] is True
    # Some clients expect a refresh token only when offline_access is offered.
    assert doc["scopes_supported"] == ["statuspal:read", "statuspal:write", "offline_access"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["response_types_supported"] == ["code"]


@pytest.mark.parametrize("path", [
    "/.well-known/oauth-protected-resource/",  # trailing slash on the root form: not our resource
    "/.well-known/oauth-authorization-server/",
    "/.well-known/oauth-authorization-server/mcp",  # RFC 8414 path-suffixed form of an issuer we are not
    "/.well-known/openid-configuration/mcp",
    "/.well-known/oauth-protected-resource/other",
    "/.well-known/security.txt",
    "/.well-known/",
])
async def test_other_well_known_paths_are_json_404s(gw: RunningServer, path: str) -> None:
    status, headers, body = await get(gw.url + path)
    assert status == 404 and headers["Content-Type"].startswith("application/json"), body
    assert '"error":"not_found"' in body and path in body


async def test_wrong_methods_on_metadata_are_json_405(gw: RunningServer) -> None:
    status, headers, body = await get(gw.url + AS_PATHS[0], method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD" and '"error":"method_not_allowed"' in body


@pytest.mark.parametrize("mcp_path", ["/mcp", "/mcp/"])
async def test_a_401_leads_to_a_document_whose_resource_is_the_canonical_url(gw: RunningServer, mcp_path: str) -> None:
    status, headers, _ = await get(gw.url + mcp_path, method="POST", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                   headers={"Accept": "application/json, text/event-stream"})
    assert status == 401
    challenge = re.search(r'resource_metadata="([^"]+)"', headers["WWW-Authenticate"])
    assert challenge and challenge.group(1) == f"{gw.url}/.well-known/oauth-protected-resource/mcp"
    status, _, body = await get(challenge.group(1))
    document = orjson.loads(body)
    assert status == 200 and document["resource"] == gw.mcp_url
    # The scope hint names only scopes the document supports, and not offline_access (MCP: a challenge should not).
    hinted = re.search(r'scope="([^"]+)"', headers["WWW-Authenticate"]).group(1).split()
    assert hinted == ["statuspal:read", "statuspal:write"] and set(hinted) <= set(document["scopes_supported"])


@pytest.mark.parametrize("path", [*PRM_PATHS, *AS_PATHS, "/token", "/register", "/revoke"])
async def test_cors_preflight_is_answered_without_credentials_for_listed_origins(gw: RunningServer, path: str) -> None:
    status, headers, _ = await get(gw.url + path, method="OPTIONS", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET" if "well-known" in path else "POST",
        "Access-Control-Request-Headers": "content-type, mcp-protocol-version"})
    assert status == 204 and headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "mcp-protocol-version" in headers["Access-Control-Allow-Headers"].lower()
    status, headers, _ = await get(gw.url + path, method="OPTIONS", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("path", [PRM_PATHS[0], AS_PATHS[0], "/.well-known/nothing-here"])
async def test_cors_headers_on_metadata_answers(gw: RunningServer, path: str) -> None:
    _, headers, _ = await get(gw.url + path, headers={"Origin": ORIGIN})
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    _, headers, _ = await get(gw.url + path, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("path", ["/token", "/register", "/revoke"])
async def test_cors_headers_on_oauth_api_errors_too(gw: RunningServer, path: str) -> None:
    status, headers, _ = await get(gw.url + path, method="POST", data=b"", headers={"Origin": ORIGIN})
    assert status == 400 and headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_no_cors_on_authorize_ever(gw: RunningServer) -> None:
    """A page, not an API: another origin must never read it (it carries the CSRF token)."""
    status, headers, _ = await get(gw.url + "/authorize", method="OPTIONS",
                                   headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert status == 405 and "Access-Control-Allow-Origin" not in headers
    _, headers, _ = await get(gw.url + "/authorize?client_id=x", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in headers
    _, headers, _ = await get(gw.url + "/authorize", method="POST", data={"x": "1"}, headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in headers
