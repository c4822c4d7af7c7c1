"""The excerpt shown with a hit: at most 300 characters of the section, the matched words marked **so**.

A reader (often a model that will not open the link) should see the answer, not the section's first words. So
the excerpt starts at the sentence that answers: the prose sentence, table row or code line where the question's
words weigh most (rare words count for more than words every section uses), then reads on while room is left. A
code line competes with the prose when the question asks for a format, a command or a header ("what does a 422
look like", "curl", "mcp.json"); a sentence that introduces a code sample with a colon brings the sample along.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from search.schema import ANALYZER, analyze

SNIPPET_MAX = 300
# Plain text shown; the rest of the 300 characters is room for `**` marks and ellipses.
SNIPPET_WINDOW = 240
SNIPPET_MAX_MARKS = 12
SNIPPET_LEAD = 40
# The least room worth filling with the start of one more unit.
SNIPPET_TAIL = 30
# How a code line's weight compares with a sentence's. Code repeats field names everywhere, so unless the
# question asks for a format or a command a code line must match clearly more to be chosen; when it does ask,
# the sample is the answer and wins ties.
CODE_DISCOUNT = 0.6
CODE_BONUS = 1.5
# Words that ask for a sample rather than an explanation. The generic ones say nothing about which sample: where
# they occur ("the header format differs from v2") is no sign of the answer, so they are not weighed.
_GENERIC_CUES = frozenset(stem for word in "format formatted look looks example sample syntax snippet".split() for stem, _ in analyze(word))
_CODE_CUES = _GENERIC_CUES | frozenset(
    stem for word in "header headers command commands curl json payload config configuration shell bash cli run url".split() for stem, _ in analyze(word)
)
# The stems to mark, each with the number of the question's word it stands for (its own stem, a corrected
# spelling or a synonym) and how much that variant counts: a word counts once, by its best variant shown.
Marks = dict[str, tuple[int, float]]

# Sentence ends inside a prose block: ". " (or ! ?) before a capital, a digit, a quote or code; "e.g. the" stays.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'`(])")


def asks_for_code(stems: Iterable[str]) -> bool:
    """Whether a question (its stems) asks for a format, a command or a header, whose answer is a code line."""
    return not _CODE_CUES.isdisjoint(stems)


@dataclass(frozen=True)
class Unit:
    """A sentence, table row or code line: the smallest piece an excerpt starts at."""

    block: int  # which passage of the section it belongs to
    code: bool
    text: str
    # Where each stem occurs in `text`: stem → [(start, end)].
    where: dict[str, list[tuple[int, int]]]

    @property
    def introduces(self) -> bool:
        """A sentence ending in a colon announces what follows (usually a code sample)."""
        return not self.code and self.text.endswith(":")


def units_of(passages: Sequence[tuple[str, str]]) -> list[Unit]:
    """A section's passages cut into units, each with its stems' offsets (the index's own analyzer)."""
    units: list[Unit] = []
    for block, (kind, text) in enumerate(passages):
        pieces = [" ".join(line.split()) for line in text.split("\n")] if kind == "code" else _SENTENCE_END.split(text)
        for piece in pieces:
            if not piece:
                continue
            where: dict[str, list[tuple[int, int]]] = {}
            for t in ANALYZER(piece, chars=True):
                where.setdefault(t.text, []).append((t.startchar, t.endchar))
            units.append(Unit(block, kind == "code", piece, where))
    return units


class Snippets:
    """Every section cut into units once per build, and how many sections use each stem (rarer weighs more).

    A section's opening answers what its heading names ("Service statuses" → "A service can be in one of four
    states: …"), so the heading's words count as shown by an excerpt that starts at the first unit.
    """

    def __init__(self, sections: dict[int, list[Unit]], headings: dict[int, set[str]]) -> None:
        self._sections = sections
        self._headings = headings
        df: dict[str, int] = {}
        for units in sections.values():
            for stem in {s for u in units for s in u.where}:
                df[stem] = df.get(stem, 0) + 1
        n = max(1, len(sections))
        self._weight = {stem: 1.0 + math.log(n / count) for stem, count in df.items()}

    @classmethod
    def analyse(cls, sections: Iterable[tuple[int, str, Sequence[tuple[str, str]]]]) -> Snippets:
        """The tables for (section number, heading, passages) triples."""
        units: dict[int, list[Unit]] = {}
        headings: dict[int, set[str]] = {}
        for docnum, heading, passages in sections:
            units[docnum] = units_of(passages)
            headings[docnum] = {stem for stem, _ in analyze(heading)}
        return cls(units, headings)

    def snippet(self, docnum: int, marks: Marks, code_first: bool = False) -> str:
        """At most 300 characters starting at the section's answering unit, matched words marked **so**.

        Every unit where a matched word occurs is a candidate start; its excerpt reads on from there. The excerpt
        whose words weigh most wins, then the one whose first unit weighs most (the answer comes first), then the
        earlier one.
        """
        units = self._sections.get(docnum) or []
        if not units:
            return ""
        heading = self._headings.get(docnum, set())
        best: tuple[tuple[float, float, int], list[tuple[int, int]], int] | None = None
        for i, unit in enumerate(units):
            named = heading if i == 0 else set()
            gain = self._weigh([(unit, len(unit.text))], marks, code_first)
            if gain == 0 and (best is not None or i < len(units) - 1):
                continue
            shown, room = _excerpt(units, i, marks)
            key = (self._weigh([(units[j], hi) for j, hi in shown], marks, code_first, named), gain, -i)
            if best is None or key > best[0]:
                best = (key, shown, room)
        assert best is not None
        _, shown, room = best
        first = shown[0][0]
        if len(units[first].text) > SNIPPET_WINDOW:
            return _cut_around(units[first], marks, more_before=first > 0, more_after=first < len(units) - 1)
        # Room left when the excerpt runs to the section's end: an earlier unit where the question's words weigh
        # most, as a fragment of its own ("Revoke a key from … section. … Revoke immediately if …").
        weigh_alone = {j: self._weigh([(units[j], len(units[j].text))], marks, code_first) for j in range(first)}
        lead = max(
            (j for j, w in weigh_alone.items() if w and not units[j].code and _cost(units[j], len(units[j].text), marks) <= room - 4),
            key=lambda j: (weigh_alone[j], -j),
            default=None,
        )
        parts = []
        if lead is not None:
            parts.append(("…" if lead > 0 else "") + _marked(units[lead], 0, len(units[lead].text), marks) + " ")
        parts.append("…" if first > 0 else "")
        for n, (j, hi) in enumerate(shown):
            if n:
                # A new paragraph or table row reads as one; a code sample follows its introduction directly.
                parts.append(" / " if units[j].block != units[shown[n - 1][0]].block and not units[j].code else " ")
            parts.append(_marked(units[j], 0, hi, marks))
        last, hi = shown[-1]
        more = last < len(units) - 1 or hi < len(units[last].text)
        text = _limit_marks("".join(parts) + ("…" if more else ""))
        if len(text) > SNIPPET_MAX and lead is not None:  # the marks took the lead fragment's room
            text = _limit_marks("".join(parts[1:]) + ("…" if more else ""))
        return _fit(text)

    def _weigh(self, shown: Sequence[tuple[Unit, int]], marks: Marks, code_first: bool, named: frozenset[str] | set[str] = frozenset()) -> float:
        """What the question's words shown in these (unit, end offset) pieces (or `named` by their heading) weigh:
        each word once, by its best variant, rare stems more than common ones, code by the question's appetite."""
        best: dict[int, float] = {}
        if code_first:
            marks = {stem: m for stem, m in marks.items() if stem not in _GENERIC_CUES}
        for stem in named & marks.keys():
            word, weight = marks[stem]
            best[word] = max(best.get(word, 0.0), self._weight.get(stem, 1.0) * weight)
        for unit, hi in shown:
            factor = 1.0 if not unit.code else CODE_BONUS if code_first else CODE_DISCOUNT
            for stem, (word, weight) in marks.items():
                if any(e <= hi for _, e in unit.where.get(stem, ())):
                    value = self._weight.get(stem, 1.0) * weight * factor
                    best[word] = max(best.get(word, 0.0), value)
        return round(sum(best.values()), 6)


def _excerpt(units: list[Unit], start: int, marks: Marks) -> tuple[list[tuple[int, int]], int]:
    """The (unit, end offset) pairs shown for an excerpt starting at `start`: the unit, the sentence that
    introduces it when it is code, then what follows while room is left, the last one cut at a word; and the
    room left. Room is counted as shown, marks included, so an excerpt with few marks shows more words."""
    budget = SNIPPET_MAX - 2  # the ellipses
    used = _cost(units[start], len(units[start].text), marks)
    shown = [(start, len(units[start].text))]
    if len(units[start].text) > SNIPPET_WINDOW:
        return shown, 0  # cut around its matches instead
    # A code line without the sentence that says what it is reads as noise; one sentence back is enough.
    if units[start].code and start > 0 and units[start - 1].introduces:
        cost = _cost(units[start - 1], len(units[start - 1].text), marks) + 1
        if used + cost <= budget:
            shown.insert(0, (start - 1, len(units[start - 1].text)))
            used += cost
    for i in range(start + 1, len(units)):
        room = budget - used - 3
        cost = _cost(units[i], len(units[i].text), marks)
        if cost <= room:
            shown.append((i, len(units[i].text)))
            used += cost + 3
            continue
        if room >= SNIPPET_TAIL:
            cut = units[i].text.rfind(" ", 0, room)
            while cut > 0 and _cost(units[i], cut, marks) > room:
                cut = units[i].text.rfind(" ", 0, cut)
            if cut > 0:
                shown.append((i, cut))
                used += _cost(units[i], cut, marks) + 3
        break
    return shown, budget - used


def _spans(unit: Unit, lo: int, hi: int, marks: Marks) -> list[tuple[int, int]]:
    """Where matched words start and end in unit.text[lo:hi]; an identifier matched whole is not marked in parts."""
    out: list[tuple[int, int]] = []
    for s, neg_e in sorted((s, -e) for stem in marks if stem in unit.where for s, e in unit.where[stem]):
        if s >= lo and -neg_e <= hi and (not out or s >= out[-1][1]):
            out.append((s, -neg_e))
    return out


def _cost(unit: Unit, hi: int, marks: Marks) -> int:
    """Characters unit.text[:hi] takes once marked."""
    return hi + 4 * len(_spans(unit, 0, hi, marks))


def _marked(unit: Unit, lo: int, hi: int, marks: Marks) -> str:
    """unit.text[lo:hi] with the matched words in **bold**."""
    out, pos = [], lo
    for s, e in _spans(unit, lo, hi, marks):
        out.append(unit.text[pos:s] + "**" + unit.text[s:e] + "**")
        pos = e
    out.append(unit.text[pos:hi])
    return "".join(out)


def _fit(text: str) -> str:
    """The text cut to SNIPPET_MAX at a word, outside a mark, when marks made it longer."""
    if len(text) <= SNIPPET_MAX:
        return text
    cut = text.rfind(" ", 0, SNIPPET_MAX - 1)
    text = text[: cut if cut > 0 else SNIPPET_MAX - 1]
    if text.count("**") % 2:
        text = text[: text.rfind("**")]
    return text.rstrip() + "…"


def _limit_marks(text: str) -> str:
    """Drop the marks after the first SNIPPET_MAX_MARKS so they never eat the room meant for words."""
    count = 0

    def keep(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return m.group(0) if count <= SNIPPET_MAX_MARKS else m.group(1)

    return re.sub(r"\*\*([^*]+)\*\*", keep, text)


def _cut_around(unit: Unit, marks: Marks, more_before: bool, more_after: bool) -> str:
    """A window of a unit longer than the excerpt, around its densest cluster of distinct matched words."""
    body = unit.text
    matches = sorted((s, e, stem) for stem in marks if stem in unit.where for s, e in unit.where[stem])
    best_start, best_count = 0, -1
    for i, (start, _, _) in enumerate(matches):
        if i and matches[i - 1][0] == start:
            continue
        reach = start + SNIPPET_WINDOW - SNIPPET_LEAD
        covered = {stem for s, e, stem in matches[i:] if s <= reach and e <= reach}
        if len(covered) > best_count:
            best_start, best_count = start, len(covered)
    # Start at the clause the first match is in when it began shortly before, else a few words before it.
    clause = max(body.rfind(mark, 0, best_start) for mark in (": ", "; ", ", "))
    lo = clause + 2 if 0 <= clause and best_start - clause <= SNIPPET_LEAD * 3 else max(0, best_start - SNIPPET_LEAD)
    if lo and lo != clause + 2:
        space = body.find(" ", lo)
        lo = space + 1 if 0 <= space < best_start else lo
    hi = min(len(body), lo + SNIPPET_WINDOW)
    if hi < len(body):
        space = body.rfind(" ", lo, hi)
        hi = space if space > lo else hi
    text = _limit_marks(_marked(unit, lo, hi, marks))
    return _fit(("…" if lo > 0 or more_before else "") + text + ("…" if hi < len(body) or more_after else ""))
