"""Query the docs index: one open searcher, swapped for a newer build without a restart.

Search runs on the event loop thread: a query over this corpus takes well under a millisecond, far less than a
thread hop would cost, and keeping every search on one thread is what makes sharing one Whoosh searcher safe.
Opening a new build (file reads, warming caches) happens in a worker thread; the finished build replaces the
old one with a single attribute assignment, so a query sees either the old build or the new one, never a mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import index as whoosh_index
from whoosh.query import Or, Phrase, Term

from search.build import BUILD_INFO, current_build
from search.query import MAX_QUERY_CHARS, QueryPlan, parse_query
from search.schema import ANALYZER, FIELD_BOOSTS, SCHEMA, SYNONYM_WEIGHT, TEXT_FIELDS, analyze, synonym_map
from search.spelling import Speller

if TYPE_CHECKING:
    from gateway.config import SearchSettings

log = logging.getLogger(__name__)

SNIPPET_MAX = 300
# Plain text shown around the matches; the rest of the 300 characters is room for `**` marks and ellipses.
SNIPPET_WINDOW = 240
SNIPPET_MAX_MARKS = 12
SNIPPET_LEAD = 40
# A corrected spelling counts for less than a word found as typed.
FUZZY_WEIGHT = 0.8
PHRASE_BOOST = 2.0
# Coordination bonus: a section matching more of the question's words ranks above one that repeats a single word.
COORDINATION = 0.7
# Share of a word's weaker variants (synonyms, second spelling guess) added to its best one.
TIEBREAK = 0.1
MAX_LIMIT = 50
# Finished results kept per build. Assistants repeat the same few questions (and retry them), and a build never
# changes once opened, so a repeat costs a dictionary lookup. Bounded: a few hundred small tuples.
RESULT_CACHE_SIZE = 512
_PHRASE_FIELDS = ("heading", "trail", "body")
_SPELLING_FIELDS = ("body", "heading", "code")


class IndexNotReady(Exception):
    """No build has been published yet (or none could be opened)."""


@dataclass(frozen=True)
class Hit:
    title: str
    section: str
    url: str
    snippet: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "section": self.section, "url": self.url, "snippet": self.snippet, "score": self.score}


class SearchResults(list):
    """The hits, best first, plus an optional message for the reader (query cut short, spelling corrected, …)."""

    def __init__(self, hits: list[Hit] | tuple[Hit, ...] = (), message: str | None = None) -> None:
        super().__init__(hits)
        self.message = message


class _Build:
    """One published build, opened once: its searcher, the stored sections and the per-build caches.

    Whoosh's matcher tree costs several milliseconds per question in pure Python, most of it spent building and
    skipping through matchers for a hundred sections. So on open we ask Whoosh for its own BM25F score of every
    (field, term, section) once, fold the field boosts in, and keep `stem → {section: score}` in memory. A
    question then costs a few dictionary sums. Phrases, which need positions, still go through Whoosh.
    """

    def __init__(self, build_id: str, path: Path) -> None:
        self.build_id = build_id
        self.path = path
        self.info = json.loads((path / BUILD_INFO).read_text(encoding="utf-8"))
        self.ix = whoosh_index.open_dir(str(path))
        self.searcher = self.ix.searcher()
        self.reader = self.searcher.reader()
        self.docs = {docnum: fields for docnum, fields in self.reader.iter_docs()}
        self.scores = self._term_scores()
        self.speller = Speller(
            word for f in _SPELLING_FIELDS for word in self.reader.field_terms(SCHEMA[f].spelling_fieldname(f))
        )
        # For snippets, computed once rather than per hit: each section's prose and, per stem, where it occurs
        # as (token number, start, end). A snippet then looks up the few matched stems instead of scanning and
        # re-analysing the whole section; the token number keeps the prose's own order when stems are merged.
        self.bodies: dict[int, str] = {}
        self.positions: dict[int, dict[str, list[tuple[int, int, int]]]] = {}
        for docnum, doc in self.docs.items():
            body = doc.get("body", "")
            where: dict[str, list[tuple[int, int, int]]] = {}
            for number, t in enumerate(ANALYZER(body, chars=True)):
                where.setdefault(t.text, []).append((number, t.startchar, t.endchar))
            self.bodies[docnum] = body
            self.positions[docnum] = where
        # One cache per build: swapping in a new build drops the old answers with the old build.
        # functools.lru_cache is safe to share between threads (the SDK comparison server searches from some).
        self.cached = functools.lru_cache(maxsize=RESULT_CACHE_SIZE)(self.answer)

    def _term_scores(self) -> dict[str, dict[int, float]]:
        scores: dict[str, dict[int, float]] = {}
        for field in TEXT_FIELDS:
            boost = FIELD_BOOSTS[field]
            for stem in self.reader.field_terms(field):
                matcher = Term(field, stem).matcher(self.searcher)
                per_doc = scores.setdefault(stem, {})
                while matcher.is_active():
                    docnum = matcher.id()
                    per_doc[docnum] = per_doc.get(docnum, 0.0) + boost * matcher.score()
                    matcher.next()
        return scores

    def close(self) -> None:
        self.cached.cache_clear()
        self.searcher.close()

    def answer(self, query: str, limit: int) -> tuple[tuple[Hit, ...], str | None]:
        """The hits and the reader's message for a query: a pure function of this build, the text and the limit."""
        plan = parse_query(query)
        notes = list(plan.notes)
        if plan.empty:
            notes.append("The query has no searchable words; ask in plain words, e.g. 'rotate a webhook secret'.")
            return (), " ".join(notes)
        ranked, marks, corrected = self.rank(plan, limit)
        if corrected:
            notes.append("Also searched for " + ", ".join(f"'{w}' (for '{s}')" for s, w in corrected.items()) + ".")
        if not ranked:
            notes.append("No section of the docs mentions these words; try other words for the same thing.")
        hits = tuple(self.hit(docnum, score, marks) for score, docnum in ranked)
        return hits, " ".join(notes) or None

    # -- ranking -------------------------------------------------------------------------------------------

    def rank(self, plan: QueryPlan, limit: int) -> tuple[list[tuple[float, int]], set[str], dict[str, str]]:
        """The best (score, docnum) pairs for a plan, the stems to highlight, and the spelling corrections made.

        Each word of the question is one group: its best-scoring variant (as typed, corrected, or a synonym)
        counts, plus a little of the others, so synonyms widen recall without letting a section that says
        "incident", "notice" and "outage" outrank one that answers the question. Groups add up, and a
        coordination factor favours sections that match more of the question's words.
        """
        groups: list[dict[int, float]] = []
        marks: set[str] = set()
        corrected: dict[str, str] = {}
        synonyms = synonym_map()
        for word in plan.words:
            if word.stem in self.scores:
                variants = [(word.stem, 1.0)]
            else:
                fixes = self.correct(word.surface)
                if not fixes:
                    continue
                corrected[word.surface] = fixes[0][1]
                variants = [(stem, FUZZY_WEIGHT) for stem, _ in fixes]
            for stem, weight in list(variants):
                variants.extend((s, weight * SYNONYM_WEIGHT) for s in synonyms.get(stem, ()) if s in self.scores)
            best: dict[int, float] = {}
            total: dict[int, float] = {}
            for stem, weight in variants:
                marks.add(stem)
                for docnum, score in self.scores[stem].items():
                    score *= weight
                    total[docnum] = total.get(docnum, 0.0) + score
                    if score > best.get(docnum, 0.0):
                        best[docnum] = score
            groups.append({d: b + TIEBREAK * (total[d] - b) for d, b in best.items()})
        for phrase in plan.phrases:
            if all(stem in self.scores for stem in phrase):
                query = Or([Phrase(f, list(phrase), boost=PHRASE_BOOST * FIELD_BOOSTS[f]) for f in _PHRASE_FIELDS])
                groups.append({hit.docnum: hit.score for hit in self.searcher.search(query, limit=None)})
        if not groups:
            return [], marks, corrected
        summed: dict[int, float] = {}
        matched: dict[int, int] = {}
        for group in groups:
            for docnum, score in group.items():
                summed[docnum] = summed.get(docnum, 0.0) + score
                matched[docnum] = matched.get(docnum, 0) + 1
        n = len(groups)
        ranked = heapq.nlargest(
            limit,
            ((score * (1 - COORDINATION + COORDINATION * matched[d] / n), d) for d, score in summed.items()),
        )
        return ranked, marks, corrected

    def correct(self, surface: str) -> tuple[tuple[str, str], ...]:
        """Closest known words to a misspelt one, as (stem, word): at most two, at the smallest distance found."""
        ranked = []
        for dist, word in self.speller.candidates(surface):
            terms = analyze(word)
            stem = terms[0][0] if terms else None
            if stem in self.scores:
                # Among equally close words, the one more sections use is the likelier intent.
                ranked.append((dist, -len(self.scores[stem]), word, stem))
        ranked.sort()
        return tuple((stem, word) for dist, _, word, stem in ranked[:2] if dist == ranked[0][0])

    # -- hits ----------------------------------------------------------------------------------------------

    def hit(self, docnum: int, score: float, marks: set[str]) -> Hit:
        doc = self.docs[docnum]
        return Hit(
            title=doc["title"],
            section=doc["trail"],
            url=doc["url"],
            snippet=self.snippet(docnum, marks),
            score=round(float(score), 3),
        )

    def snippet(self, docnum: int, marks: set[str]) -> str:
        """At most 300 characters of the section's prose around the densest cluster of matched words, marked **so**."""
        body = self.bodies[docnum]
        where = self.positions[docnum]
        found = sorted((number, s, e, stem) for stem in marks if stem in where for number, s, e in where[stem])
        matches = [(s, e, stem) for _, s, e, stem in found]
        if not matches:
            return _cut(body, 0, SNIPPET_WINDOW + 40)
        # The window (starting a little before a match) that covers the most distinct matched words. Matches are
        # in text order, so starts never decrease: a window's scan stops at the first match starting past it, and
        # a start equal to the previous one covers the same words (the earlier one wins ties anyway).
        best_start, best_count = matches[0][0], -1
        for i, (start, _, _) in enumerate(matches):
            if i and matches[i - 1][0] == start:
                continue
            reach = start + SNIPPET_WINDOW - SNIPPET_LEAD
            covered = set()
            for s, e, stem in matches[i:]:
                if s > reach:
                    break
                if e <= reach:
                    covered.add(stem)
            if len(covered) > best_count:
                best_start, best_count = start, len(covered)
        lo = max(0, best_start - SNIPPET_LEAD)
        if lo:
            space = body.find(" ", lo)
            lo = space + 1 if 0 <= space < best_start else lo
        hi = min(len(body), lo + SNIPPET_WINDOW)
        if hi < len(body):
            space = body.rfind(" ", lo, hi)
            hi = space if space > lo else hi
        parts, pos, marked = [], lo, 0
        for s, e, _ in matches:
            if s < lo or e > hi or marked >= SNIPPET_MAX_MARKS:
                continue
            parts.append(body[pos:s] + "**" + body[s:e] + "**")
            pos, marked = e, marked + 1
        parts.append(body[pos:hi])
        text = ("…" if lo > 0 else "") + "".join(parts) + ("…" if hi < len(body) else "")
        return text[:SNIPPET_MAX]


def _cut(text: str, start: int, length: int) -> str:
    if len(text) - start <= length:
        return text[start:]
    end = text.rfind(" ", start, start + length)
    return text[start : end if end > start else start + length] + "…"


class DocsIndex:
    """The docs index the gateway searches, following the `CURRENT` build of `index_dir`."""

    def __init__(self, index_dir: Path | str, settings: "SearchSettings") -> None:
        self.index_dir = Path(index_dir)
        self.reload_interval = settings.reload_interval_seconds
        self._build: _Build | None = None
        self._retired: _Build | None = None
        self._task: asyncio.Task[None] | None = None
        # Open what is there now, so a freshly started gateway answers its first search_docs call. A broken
        # build must not stop the gateway: /readyz reports the index as not loaded and the watcher retries.
        try:
            self.reload()
        except Exception as exc:
            log.warning("docs index at %s could not be opened: %s", self.index_dir, exc)

    @property
    def loaded(self) -> bool:
        return self._build is not None

    @property
    def build_id(self) -> str | None:
        return self._build.build_id if self._build else None

    def _pending(self) -> tuple[str, Path] | None:
        """The published build if it differs from the one being served."""
        found = current_build(self.index_dir)
        if found is None or (self._build is not None and found[0] == self._build.build_id):
            return None
        return found

    def reload(self) -> bool:
        """Open the published build if it is newer than the one in use; True when a swap happened."""
        found = self._pending()
        if found is None:
            return False
        self._swap(_Build(*found))
        return True

    def _swap(self, build: _Build) -> None:
        old, self._build = self._build, build
        # Close the build retired one swap ago rather than the one just replaced: a search that started on
        # another thread (benchmarks do that) may still be reading the latter.
        if self._retired is not None:
            self._retired.close()
        self._retired = old
        log.info("docs index build %s loaded (%s sections)", build.build_id, build.info.get("sections"))

    def start_watching(self) -> None:
        """Poll for a newer build every `reload_interval_seconds` (must be called with a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="docs-index-watch")

    async def stop_watching(self) -> None:
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
            try:
                found = self._pending()
                if found is not None:
                    build = await asyncio.to_thread(_Build, *found)
                    self._swap(build)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bad build must not stop the gateway: keep serving the current one
                log.warning("docs index reload failed, keeping build %s: %s", self.build_id, exc)
            await asyncio.sleep(self.reload_interval)

    def search(self, query: str, limit: int = 5, *, cache: bool = True) -> SearchResults:
        """The best sections for `query`; never raises on odd text, only when no index is loaded.

        `cache=False` searches in full even for a question seen before: for measuring the search itself.
        """
        build = self._build
        if build is None:
            raise IndexNotReady("the docs index has not been built; run `statuspal-mcp build-index`")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if len(query) > MAX_QUERY_CHARS or not cache:
            # A pasted page (cut by parse_query, which says so) is not worth a cache slot.
            hits, message = build.answer(query, limit)
        else:
            # Runs of whitespace never change the words found, so they share one cache entry.
            hits, message = build.cached(" ".join(query.split()), limit)
        return SearchResults(hits, message)
