"""From the text a user (or a model) typed to the terms we search for.

We never hand raw text to Whoosh's QueryParser: its syntax (AND/OR/NOT, `*`, `field:`, ranges, quotes) would
turn ordinary questions into errors or surprising queries. Instead the text is cut into words with the index's own
analyzer; double-quoted parts become phrases; everything else is a plain word. Operators are just words here,
and words without meaning (stopwords, punctuation, emoji) simply vanish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from search.schema import analyze

# A question is a sentence or two; anything longer is a pasted document, and scoring it word by word is slow
# and meaningless. Longer input is cut, and the caller is told.
MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_PHRASES = 4

_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class Word:
    stem: str
    # The word as typed (lowercased), for spelling correction: stems of misspelled words are not comparable.
    surface: str


@dataclass(frozen=True)
class QueryPlan:
    words: tuple[Word, ...]
    phrases: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases


def parse_query(text: str) -> QueryPlan:
    notes: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        cut = text[:MAX_QUERY_CHARS]
        # Do not end inside a word.
        space = cut.rfind(" ")
        text = cut[:space] if space > MAX_QUERY_CHARS // 2 else cut
        notes.append(f"Only the first {len(text)} characters of the query were searched.")

    phrases: list[tuple[str, ...]] = []
    for m in _QUOTED.finditer(text):
        stems = tuple(s for s, _ in analyze(m.group(1)))
        if len(stems) > 1 and len(phrases) < MAX_PHRASES:
            phrases.append(stems)
    # Every word counts as a loose term too (quoted or not): a phrase that never occurs verbatim should still
    # find the sections that use its words. An unmatched quote is just a character.
    words: list[Word] = []
    seen: set[str] = set()
    for stem, surface in analyze(text.replace('"', " ")):
        if stem in seen:
            continue
        seen.add(stem)
        words.append(Word(stem, surface))
    if len(words) > MAX_TERMS:
        words = words[:MAX_TERMS]
        notes.append(f"Only the first {MAX_TERMS} distinct words of the query were used.")
    return QueryPlan(tuple(words), tuple(phrases), tuple(notes))
