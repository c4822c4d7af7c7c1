"""Ranking: from a question to the best sections of one build, each with its excerpt.

Whoosh's matcher tree costs several milliseconds per question in pure Python, most of it spent building and
skipping through matchers for a hundred sections. So when a build is opened we ask Whoosh for its own BM25F
score of every (field, term, section) once, fold the field boosts in, and keep `stem → {section: score}` in
memory. A question then costs a few dictionary sums. Phrases, which need positions, still go through Whoosh.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from whoosh.query import Or, Phrase, Term
from whoosh.searching import Searcher

from search.corpus import TRAIL_SEPARATOR
from search.query import QueryPlan, parse_query
from search.schema import FIELD_BOOSTS, SCHEMA, SYNONYM_WEIGHT, TEXT_FIELDS, synonym_map
from search.schema import stem as stem_of
from search.snippets import Marks, Snippets, asks_for_code
from search.spelling import Speller

# A corrected spelling counts for less than a word found as typed.
FUZZY_WEIGHT = 0.8
PHRASE_BOOST = 2.0
# Coordination bonus: a section matching more of the question's words ranks above one that repeats a single word.
COORDINATION = 0.7
# Share of a word's weaker variants (synonyms, second spelling guess) added to its best one.
TIEBREAK = 0.1
_PHRASE_FIELDS = ("heading", "trail", "body")
_SPELLING_FIELDS = ("body", "heading", "code")


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


class Ranker:
    """Answers questions from one build: its stored sections, per-stem scores, speller and excerpts."""

    def __init__(
        self,
        searcher: Searcher,
        docs: dict[int, dict[str, Any]],
        scores: dict[str, dict[int, float]],
        speller: Speller,
        snippets: Snippets,
    ) -> None:
        self._searcher = searcher
        self._docs = docs
        self._scores = scores
        self._speller = speller
        self._snippets = snippets

    @classmethod
    def from_searcher(cls, searcher: Searcher) -> Ranker:
        """The tables for the build `searcher` reads. Reads the whole index: call it off the event loop."""
        reader = searcher.reader()
        docs = {docnum: fields for docnum, fields in reader.iter_docs()}
        scores: dict[str, dict[int, float]] = {}
        for field in TEXT_FIELDS:
            boost = FIELD_BOOSTS[field]
            for stem in reader.field_terms(field):
                matcher = Term(field, stem).matcher(searcher)
                per_doc = scores.setdefault(stem, {})
                while matcher.is_active():
                    docnum = matcher.id()
                    per_doc[docnum] = per_doc.get(docnum, 0.0) + boost * matcher.score()
                    matcher.next()
        speller = Speller(word for f in _SPELLING_FIELDS for word in reader.field_terms(SCHEMA[f].spelling_fieldname(f)))
        snippets = Snippets.analyse((docnum, doc["trail"].rsplit(TRAIL_SEPARATOR, 1)[-1], _passages(doc)) for docnum, doc in docs.items())
        return cls(searcher, docs, scores, speller, snippets)

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
        code_first = asks_for_code(w.stem for w in plan.words)
        hits = tuple(self.hit(docnum, score, marks, code_first) for score, docnum in ranked)
        return hits, " ".join(notes) or None

    def rank(self, plan: QueryPlan, limit: int) -> tuple[list[tuple[float, int]], Marks, dict[str, str]]:
        """The best (score, docnum) pairs for a plan, the stems to highlight (each with the number of the question's
        word it stands for and its weight), and the spelling corrections made.

        Each word of the question is one group: its best-scoring variant (as typed, corrected, or a synonym)
        counts, plus a little of the others, so synonyms widen recall without letting a section that says
        "incident", "notice" and "outage" outrank one that answers the question. Groups add up, and a
        coordination factor favours sections that match more of the question's words.
        """
        groups: list[dict[int, float]] = []
        marks: Marks = {}
        corrected: dict[str, str] = {}
        synonyms = synonym_map()
        for word in plan.words:
            if word.stem in self._scores:
                variants = [(word.stem, 1.0)]
            else:
                fixes = self.correct(word.surface)
                if not fixes:
                    continue
                corrected[word.surface] = fixes[0][1]
                variants = [(stem, FUZZY_WEIGHT) for stem, _ in fixes]
            for stem, weight in list(variants):
                variants.extend((s, weight * SYNONYM_WEIGHT) for s in synonyms.get(stem, ()) if s in self._scores)
            best: dict[int, float] = {}
            total: dict[int, float] = {}
            for stem, weight in variants:
                marks.setdefault(stem, (len(groups), weight))
                for docnum, score in self._scores[stem].items():
                    score *= weight
                    total[docnum] = total.get(docnum, 0.0) + score
                    if score > best.get(docnum, 0.0):
                        best[docnum] = score
            groups.append({d: b + TIEBREAK * (total[d] - b) for d, b in best.items()})
        for phrase in plan.phrases:
            if all(stem in self._scores for stem in phrase):
                query = Or([Phrase(f, list(phrase), boost=PHRASE_BOOST * FIELD_BOOSTS[f]) for f in _PHRASE_FIELDS])
                groups.append({hit.docnum: hit.score for hit in self._searcher.search(query, limit=None)})
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
        for dist, word in self._speller.candidates(surface):
            root = stem_of(word)
            if root in self._scores:
                # Among equally close words, the one more sections use is the likelier intent.
                ranked.append((dist, -len(self._scores[root]), word, root))
        ranked.sort()
        return tuple((root, word) for dist, _, word, root in ranked[:2] if dist == ranked[0][0])

    def hit(self, docnum: int, score: float, marks: Marks, code_first: bool = False) -> Hit:
        doc = self._docs[docnum]
        return Hit(
            title=doc["title"],
            section=doc["trail"],
            url=doc["url"],
            snippet=self._snippets.snippet(docnum, marks, code_first),
            score=round(float(score), 3),
        )


def _passages(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """A section's prose and code in reading order; a build older than that field gives them one after the other."""
    if doc.get("passages"):
        return [tuple(p) for p in doc["passages"]]
    return [(kind, doc[field]) for kind, field in (("prose", "body"), ("code", "code")) if doc.get(field)]
