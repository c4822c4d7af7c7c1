"""The docs index the gateway serves: open the published build, follow `CURRENT`, swap in newer builds.

Search runs on the event loop thread: a query over this corpus takes well under a millisecond, far less than a
thread hop would cost, and keeping every search on one thread is what makes sharing one Whoosh searcher safe.
Opening a build (file reads, warming caches) happens in a worker thread, the first one included; the finished
build replaces the old one with a single attribute assignment, so a query sees either the old build or the new
one, never a mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from search.build import BUILD_INFO, current_build
from search.query import MAX_QUERY_CHARS
from search.ranking import Hit, Ranker, SearchResults

if TYPE_CHECKING:
    from search.settings import SearchSettings

log = logging.getLogger(__name__)

MAX_LIMIT = 50
# Finished results kept per build. Assistants repeat the same few questions (and retry them), and a build never
# changes once opened, so a repeat costs a dictionary lookup. Bounded: a few hundred small tuples.
RESULT_CACHE_SIZE = 512


class IndexNotReady(Exception):
    """No build has been published yet (or none could be opened)."""


class OpenBuild:
    """One published build, opened once: its searcher, its ranking tables and its cache of finished answers."""

    def __init__(self, build_id: str, info: dict[str, Any], searcher: Searcher, ranker: Ranker) -> None:
        self.build_id = build_id
        self.info = info
        self._searcher = searcher
        self.ranker = ranker
        # One cache per build: swapping in a new build drops the old answers with the old build.
        # functools.lru_cache is safe to share between threads (the SDK comparison server searches from some).
        self.cached = functools.lru_cache(maxsize=RESULT_CACHE_SIZE)(ranker.answer)

    @classmethod
    def open(cls, build_id: str, path: Path) -> OpenBuild:
        """Read the build at `path` into memory. Blocking file I/O: call it in a worker thread from async code."""
        info = json.loads((path / BUILD_INFO).read_text(encoding="utf-8"))
        searcher = whoosh_index.open_dir(str(path)).searcher()
        try:
            return cls(build_id, info, searcher, Ranker.from_searcher(searcher))
        except BaseException:
            searcher.close()
            raise

    def close(self) -> None:
        self.cached.cache_clear()
        self._searcher.close()


class DocsIndex:
    """The docs index the gateway searches, following the `CURRENT` build of `index_dir`.

    Constructing one touches no file: `await start()` opens the published build in a worker thread and watches
    for newer ones; `DocsIndex.open` does the same opening synchronously, for scripts and tests.
    """

    def __init__(self, index_dir: Path | str, settings: SearchSettings) -> None:
        self.index_dir = Path(index_dir)
        self.reload_interval = settings.reload_interval_seconds
        self._build: OpenBuild | None = None
        self._retired: OpenBuild | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, index_dir: Path | str, settings: SearchSettings) -> DocsIndex:
        """An index with the published build already open (not loaded when nothing is published yet)."""
        index = cls(index_dir, settings)
        index.reload()
        return index

    @property
    def loaded(self) -> bool:
        return self._build is not None

    @property
    def build_id(self) -> str | None:
        return self._build.build_id if self._build else None

    def _open_pending(self) -> OpenBuild | None:
        """The published build, opened, if it differs from the one being served (blocking file I/O)."""
        found = current_build(self.index_dir)
        if found is None or (self._build is not None and found[0] == self._build.build_id):
            return None
        return OpenBuild.open(*found)

    def reload(self) -> bool:
        """Open the published build if it is newer than the one in use; True when a swap happened."""
        build = self._open_pending()
        if build is None:
            return False
        self._swap(build)
        return True

    def _swap(self, build: OpenBuild) -> None:
        old, self._build = self._build, build
        # Close the build retired one swap ago rather than the one just replaced: a search that started on
        # another thread (benchmarks do that) may still be reading the latter.
        if self._retired is not None:
            self._retired.close()
        self._retired = old
        log.info("docs index build %s loaded (%s sections)", build.build_id, build.info.get("sections"))

    async def start(self) -> None:
        """Open what is published now, then poll for a newer build every `reload_interval_seconds`.

        The first build is opened before this returns, so a freshly started gateway answers its first
        search_docs call. A broken build must not stop the gateway: /readyz reports the index as not loaded
        and the watcher retries.
        """
        if self._task is not None:
            return
        try:
            build = await asyncio.to_thread(self._open_pending)
            if build is not None:
                self._swap(build)
        except Exception as exc:
            log.warning("docs index at %s could not be opened: %s", self.index_dir, exc)
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="docs-index-watch")

    async def stop(self) -> None:
        """Stop watching and close every open build; the index is not loaded afterwards."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for build in (self._retired, self._build):
            if build is not None:
                build.close()
        self._build = self._retired = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.reload_interval)
            try:
                build = await asyncio.to_thread(self._open_pending)
                if build is not None:
                    self._swap(build)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bad build must not stop the gateway: keep serving the current one
                log.warning("docs index reload failed, keeping build %s: %s", self.build_id, exc)

    def search(self, query: str, limit: int = 5, *, cache: bool = True) -> SearchResults:
        """The best sections for `query`; never raises on odd text, only when no index is loaded.

        `cache=False` searches in full even for a question seen before: for measuring the search itself.
        """
        build = self._build
        if build is None:
            raise IndexNotReady("the docs index has not been built; run `statuspal-mcp build-index`")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        hits: tuple[Hit, ...]
        if len(query) > MAX_QUERY_CHARS or not cache:
            # A pasted page (cut by parse_query, which says so) is not worth a cache slot.
            hits, message = build.ranker.answer(query, limit)
        else:
            # Runs of whitespace never change the words found, so they share one cache entry.
            hits, message = build.cached(" ".join(query.split()), limit)
        return SearchResults(hits, message)
