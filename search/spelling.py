"""Spelling correction for query words the docs never use, in microseconds.

Whoosh's `terms_within` walks the term list with a Python automaton: about 10 ms per unknown word here, so a
query of 32 made-up words would hold the event loop for a third of a second. Instead, when a build is opened,
every vocabulary word is indexed under each string obtained by deleting up to two of its characters
(symmetric deletion: two words within edit distance 2 always share such a string). Correcting a word is
then a few dozen dictionary lookups plus an exact distance check on the handful of candidates.
"""

from __future__ import annotations

from collections.abc import Iterable

from whoosh.support.levenshtein import distance

MIN_LENGTH = 4
MAX_LENGTH = 24
# Bounds the memory a stream of distinct made-up words can claim; the vocabulary itself is fixed per build.
MAX_CACHED = 10_000


def _deletions(word: str, max_deletes: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(max_deletes):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def max_distance(word: str) -> int:
    """One typo in a short word, two in a longer one: more would turn `page` into `gate`."""
    return 1 if len(word) <= 5 else 2


class Speller:
    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._index: dict[str, set[str]] = {}
        for word in vocabulary:
            if MIN_LENGTH <= len(word) <= MAX_LENGTH and word.isalpha():
                # Two deletions for every word, whatever its length: the query side decides how far to look.
                for key in _deletions(word, 2):
                    self._index.setdefault(key, set()).add(word)
        self._cache: dict[str, tuple[tuple[int, str], ...]] = {}

    def candidates(self, word: str) -> tuple[tuple[int, str], ...]:
        """Known words within the allowed distance of `word`, as (distance, word), closest first."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        found: tuple[tuple[int, str], ...] = ()
        if MIN_LENGTH <= len(word) <= MAX_LENGTH and word.isalpha():
            limit = max_distance(word)
            near = {w for key in _deletions(word, limit) for w in self._index.get(key, ())}
            found = tuple(sorted((d, w) for w in near if w != word and (d := distance(word, w)) <= limit))
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[word] = found
        return found
