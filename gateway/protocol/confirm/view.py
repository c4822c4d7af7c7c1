"""The publish preview as an MCP resource: one self-contained HTML file, built from `views/publish-preview/`
and committed, so serving it needs no Node. Read in the start-up hook (file I/O), served from memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.protocol.confirm.apps import VIEW_MIME
from gateway.protocol.confirm.flow import VIEW_URI

VIEW_FILE = Path(__file__).resolve().parent.parent / "views" / "publish_preview.html"


class PublishView:
    def __init__(self, path: Path = VIEW_FILE) -> None:
        self._path = path
        self._html: str | None = None

    def load(self) -> None:
        self._html = self._path.read_text(encoding="utf-8")

    def listing(self) -> dict[str, Any]:
        return {
            "uri": VIEW_URI, "name": "publish-preview", "title": "Publish preview", "mimeType": VIEW_MIME,
            "description": "Shows a confirmed write as the public page will show it, for the person to publish or cancel.",
            "_meta": {"ui": {"prefersBorder": True}},
        }

    def read(self) -> dict[str, Any]:
        if self._html is None:
            raise RuntimeError("the publish preview was not loaded: call load() in the start-up hook")
        # No csp: the host's default blocks every external connection, and the view needs none.
        return {"uri": VIEW_URI, "mimeType": VIEW_MIME, "text": self._html, "_meta": {"ui": {"prefersBorder": True}}}
