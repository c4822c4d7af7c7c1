"""The excerpt shown with a hit: at most 300 characters of the section's prose, the matched words marked **so**.

The excerpt is cut around the densest cluster of matched words, so a reader sees why the section was found.
"""

from __future__ import annotations

from collections.abc import Iterable

from search.schema import ANALYZER

SNIPPET_MAX = 300
# Plain text shown around the matches; the rest of the 300 characters is room for `**` marks and ellipses.
SNIPPET_WINDOW = 240
SNIPPET_MAX_MARKS = 12
SNIPPET_LEAD = 40

# Where each stem occurs in a section's prose: (token number, start, end).
Positions = dict[str, list[tuple[int, int, int]]]


class Snippets:
    """Every section's prose and, per stem, where it occurs, analysed once per build rather than per hit.

    A snippet then looks up the few matched stems instead of scanning and re-analysing the whole section; the
    token number keeps the prose's own order when stems are merged.
    """

    def __init__(self, bodies: dict[int, str], positions: dict[int, Positions]) -> None:
        self._bodies = bodies
        self._positions = positions

    @classmethod
    def analyse(cls, sections: Iterable[tuple[int, str]]) -> Snippets:
        """The tables for (section number, prose) pairs, through the index's own analyzer so stems agree."""
        bodies: dict[int, str] = {}
        positions: dict[int, Positions] = {}
        for docnum, body in sections:
            where: Positions = {}
            for number, t in enumerate(ANALYZER(body, chars=True)):
                where.setdefault(t.text, []).append((number, t.startchar, t.endchar))
            bodies[docnum] = body
            positions[docnum] = where
        return cls(bodies, positions)

    def snippet(self, docnum: int, marks: set[str]) -> str:
        """At most 300 characters of the section's prose around the densest cluster of matched words, marked **so**."""
        body = self._bodies[docnum]
        where = self._positions[docnum]
        found = sorted((number, s, e, stem) for stem in marks if stem in where for number, s, e in where[stem])
        matches = [(s, e, stem) for _, s, e, stem in found]
        if not matches:
            return _cut(body, SNIPPET_WINDOW + 40)
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


def _cut(text: str, length: int) -> str:
    """The start of `text`, ended at a word boundary when one falls within `length` characters."""
    if len(text) <= length:
        return text
    end = text.rfind(" ", 0, length)
    return text[: end if end > 0 else length] + "…"
