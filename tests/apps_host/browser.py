"""Shared by the publish preview's browser tests: Chromium, the test host, and a view mounted in it.

`mount_recorded` feeds the view a recorded result; `mount_live` lets the test host do what a web assistant does
against the real gateway. Either way `Mounted.view` is the view's frame, inside the sandbox proxy's frame.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.apps_host.server import AppsHost, recorded
from tests.test_login_browser import ARTIFACTS

VIEWPORT = {"width": 720, "height": 1600}
VIEW = (ARTIFACTS.parent / "gateway" / "protocol" / "views" / "publish_preview.html").read_text()


def fresh(name: str, minutes: float = 10, **preview: Any) -> dict[str, Any]:
    """A recorded result whose draft expires `minutes` from now, with preview fields replaced by `preview`."""
    result = copy.deepcopy(recorded(name))
    p = result["_meta"]["statuspal/preview"]
    p["expires_at"] = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    p.update(preview)
    return result


class Mounted:
    def __init__(self, context: Any, page: Any, complaints: list[str]) -> None:
        self.context, self.page, self.complaints = context, page, complaints
        self.view = page.frame_locator("#view").frame_locator("iframe")

    async def log(self) -> dict[str, Any]:
        return await self.page.evaluate("JSON.parse(JSON.stringify(testHost.log))")

    def csp_complaints(self) -> list[str]:
        return [c for c in self.complaints if "Content Security Policy" in c or "Refused" in c]

    async def screenshot(self, name: str) -> None:
        # The host resizes the frame from the view's size reports; a screenshot mid-resize shows an unpainted frame.
        await self.page.wait_for_function("""() => new Promise(done => {
            const frame = document.getElementById("view"), before = frame.style.height;
            setTimeout(() => done(frame.style.height === before), 150);
        })""")
        ARTIFACTS.mkdir(exist_ok=True)
        # The viewport is taller than any preview: a full-page capture that has to grow the viewport repaints the
        # out-of-process frames too late and saves them blank.
        box = await self.page.locator("#view").bounding_box()
        assert box and box["y"] + box["height"] < VIEWPORT["height"], "the preview outgrew the test viewport"
        # The view's frame alone, as a person sees it inside the assistant.
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), clip=box)


async def _open(browser: Any, host: AppsHost, theme: str, system: str | None = None) -> Mounted:
    """A fresh browser context on the host page; the system's colour scheme is `system`, or the host's `theme`."""
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1, color_scheme=system or theme)
    page = await context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if m.type in ("error", "warning") else None)
    await page.goto(host.page)
    return Mounted(context, page, complaints)


async def _shown(mounted: Mounted, mounting: Any, wait_for: str = "h1") -> Mounted:
    try:
        await mounting
        await mounted.view.locator(wait_for).wait_for()
    except BaseException:
        await mounted.context.close()
        raise
    return mounted


async def mount_recorded(browser: Any, host: AppsHost, result: dict[str, Any], theme: str = "light",
                         answers: tuple[dict[str, Any], ...] = (), wait_for: str = "h1", system: str | None = None) -> Mounted:
    """The view fed `result`; its tools/call answered with `answers` in turn, and recorded in `host.calls`.
    Returns once `wait_for` (a selector in the view) is visible."""
    host.calls.clear()
    host.answers[:] = [copy.deepcopy(a) for a in answers]
    m = await _open(browser, host, theme, system)
    return await _shown(m, m.page.evaluate("a => testHost.mountRecorded(a)", {
        "html": VIEW, "sandboxUrl": host.sandbox_url, "theme": theme, "input": {}, "result": result,
        "callUrl": host.call_url,
    }), wait_for)


async def mount_live(browser: Any, host: AppsHost, mcp_url: str, api_key: str, tool: str, arguments: dict[str, Any],
                     theme: str = "light", era: str = "handshake") -> Mounted:
    """What a web assistant does: list the gateway's tools, read the tool's view, make the model's call, mount the
    view with the result; the view's calls go to the gateway through the host's MCP client."""
    m = await _open(browser, host, theme)
    return await _shown(m, m.page.evaluate("a => testHost.mountFromGateway(a)", {
        "mcpUrl": mcp_url, "apiKey": api_key, "sandboxUrl": host.sandbox_url, "theme": theme, "tool": tool,
        "input": arguments, "era": era,
    }))
