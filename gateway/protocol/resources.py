"""The docs pages as MCP resources: `resources/list` (paginated), `resources/read`, `resources/templates/list`.

Clients that read resources (rather than call `search_docs`) get whole pages as `text/markdown`, with relative
links made absolute so a page still makes sense out of the site. URIs are built from the page's slug, which the
front matter fixes, so they stay stable across releases and renamed files. The pages are read once, in the
application's start-up hook and off the event loop (`load`): they ship with the release, and a listing that
changed between two pages of one `resources/list` walk would make cursors lie.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.tools.cursors import decode_cursor, encode_cursor
from search.corpus import load_pages

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.config import Settings

SCHEME = "statuspal-docs"
URI_PREFIX = f"{SCHEME}://pages/"
MIME = "text/markdown"
DEFAULT_PAGE_SIZE = 50
_CURSOR_KIND = "docs"


@dataclass(frozen=True)
class DocPage:
    uri: str
    slug: str
    title: str
    description: str
    text: str

    def listing(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "name": self.slug,
            "title": self.title,
            "description": self.description,
            "mimeType": MIME,
        }


class DocsResources:
    """The pages under `corpus_dir`, empty until `load` has read them (the application does at start-up)."""

    def __init__(self, corpus_dir: Path, docs_base_url: str, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._corpus_dir = corpus_dir
        self._base = docs_base_url
        self._pages: builtins.list[DocPage] = []
        self._by_uri: dict[str, DocPage] = {}
        self._page_size = page_size

    @classmethod
    def from_settings(cls, settings: Settings, page_size: int = DEFAULT_PAGE_SIZE) -> DocsResources:
        return cls(settings.path(settings.search.corpus_dir), settings.search.docs_base_url, page_size)

    def load(self) -> None:
        """Read every page: file I/O, so the start-up hook runs it in a thread. A corpus that cannot be read
        raises CorpusError, which the start-up hook reports as a configuration problem."""
        pages = load_pages(self._corpus_dir)
        self._pages = [
            DocPage(uri=URI_PREFIX + p.slug, slug=p.slug, title=p.title, description=p.description,
                    text=p.absolute_markdown(self._base))
            for p in pages
        ]
        self._by_uri = {p.uri: p for p in self._pages}

    def list(self, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the listing and the cursor of the next one (None at the end); bad cursor → ValueError."""
        start = decode_cursor(_CURSOR_KIND, cursor) if cursor is not None else 0
        # Cursors are opaque to clients; anything we did not issue is refused rather than guessed at.
        if start is None:
            raise ValueError("Invalid cursor: not one this server issued")
        if start > len(self._pages):
            raise ValueError("Invalid cursor: it points past the end of the resource list")
        end = start + self._page_size
        items = [p.listing() for p in self._pages[start:end]]
        return items, (encode_cursor(_CURSOR_KIND, end) if end < len(self._pages) else None)

    def read(self, uri: str) -> dict[str, Any] | None:
        page = self._by_uri.get(uri)
        if page is None:
            return None
        return {"uri": page.uri, "mimeType": MIME, "text": page.text}

    def templates(self) -> builtins.list[dict[str, Any]]:  # `list` here would name the method below
        return [
            {
                "uriTemplate": URI_PREFIX + "{slug}",
                "name": "docs-page",
                "title": "StatusPal Next API docs page",
                "description": "A page of the StatusPal Next API docs by slug, e.g. `webhooks` or `conventions`; "
                "resources/list shows every slug.",
                "mimeType": MIME,
            }
        ]

