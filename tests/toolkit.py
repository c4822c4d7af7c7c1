"""Running StatusPal tools directly against the sandbox, the way the dispatcher does, minus the HTTP.

`run` checks the arguments against the tool's inputSchema first (a test must not pass arguments a model
could never send) and the result against its outputSchema after, so every handler test also tests the
declared contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.statuspal.client import StatusPalAPI, StatusPalClient
from gateway.statuspal.endpoints import EndpointTable
from gateway.tools.base import ToolContext
from gateway.tools.catalogue import build_catalogue
from tests.conftest import DEMO_KEY, shared_arguments

CATALOGUE = build_catalogue()


@dataclass
class Progress:
    steps: list[tuple[float, float | None, str | None]] = field(default_factory=list)

    async def __call__(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.steps.append((progress, total, message))


async def run(api: Any, name: str, args: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    tool = CATALOGUE.get(name)
    assert tool is not None, name
    problems = [e.message for e in shared_arguments().reference(name).iter_errors(args)]
    assert not problems, f"{name} arguments do not match its inputSchema: {problems}"
    result = dict(await tool.handler(ToolContext(api=api, progress=progress or Progress()), args))
    Draft202012Validator(tool.output_schema).validate(result)
    return result


class Recording:
    """The real upstream API, noting the body of every call so a test can see exactly what a tool sent."""

    def __init__(self, api: StatusPalAPI) -> None:
        self._api = api
        self.sent: list[tuple[str, Any]] = []

    async def call(self, endpoint: str, params: Any = None, *, body: Any = None, query: Any = None) -> Any:
        self.sent.append((endpoint, body))
        return await self._api.call(endpoint, params or {}, body=body, query=query)

    async def list_all(self, endpoint: str, params: Any, **options: Any) -> Any:
        return await self._api.list_all(endpoint, params, **options)

    @property
    def endpoints(self) -> Any:
        return self._api.endpoints


async def open_api(sandbox_url: str, **statuspal: Any) -> AsyncIterator[Recording]:
    """A started upstream client on the demo key, pointed at the sandbox; closed afterwards."""
    upstream = {"base_url": f"{sandbox_url}/api/v1", "retry_backoff_seconds": 0.01, **statuspal}
    settings = load_settings(DEFAULT_CONFIG, env={}, overrides={"statuspal": upstream}).statuspal
    client = StatusPalClient(settings, EndpointTable.from_settings(settings))
    await client.start()
    try:
        yield Recording(client.for_key(DEMO_KEY))
    finally:
        await client.close()


PAGE = {"name": "Acme Status", "timezone": "UTC", "website_url": "https://acme.example"}


async def make_page(api: Any, subdomain: str = "acme", services_: tuple[str, ...] = ("API",)) -> dict[str, Any]:
    """A page with the given services (and only the default container)."""
    page = await run(api, "create_status_page", {"subdomain": subdomain, **PAGE})
    for name in services_:
        await run(api, "create_service", {"subdomain": subdomain, "name": name})
    return page
