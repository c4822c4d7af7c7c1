"""Relevance measured the way a user feels it: is the answering section first, or at least near the top, and
does its excerpt show the answer?

A question may name the words of its `answer`: then a hit counts only when it is the right section and its
snippet shows those words, because a model reads the excerpt and often never opens the link. The right
section with an excerpt that misses the answer is a miss.

Shared by the relevance test (quality gates) and the benchmark (Whoosh against SQLite FTS5 on the same
questions), so both report the same numbers. Run it after editing the corpus:
`python -m search.evaluation` prints the report for the current index.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "relevance_questions.toml"


@dataclass(frozen=True)
class Question:
    q: str
    expect: str  # "<page slug>#<anchor>"
    answer: str | None = None  # words the snippet must show, compared without marks, case or spacing

    def answered_by(self, key: str, snippet: str) -> bool:
        return key == self.expect and (self.answer is None or _plain(self.answer) in _plain(snippet))


@dataclass(frozen=True)
class Outcome:
    question: Question
    ranked: tuple[tuple[str, str], ...]  # (section key, snippet) of the hits returned, best first

    @property
    def rank(self) -> int | None:
        """1-based position of the expected section showing the answer, None when it was not returned so."""
        for i, (key, snippet) in enumerate(self.ranked, 1):
            if self.question.answered_by(key, snippet):
                return i
        return None

    @property
    def answer_hidden(self) -> bool:
        """The right section was returned, but its snippet does not show the answer."""
        return self.rank is None and any(key == self.question.expect for key, _ in self.ranked)


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]
    k: int

    @property
    def mrr(self) -> float:
        """Mean reciprocal rank at k: 1 for a first-place answer, 1/2 for second, 0 beyond k."""
        return sum(1 / o.rank for o in self.outcomes if o.rank and o.rank <= self.k) / len(self.outcomes)

    def recall_at(self, n: int) -> float:
        return sum(1 for o in self.outcomes if o.rank and o.rank <= n) / len(self.outcomes)

    @property
    def misses(self) -> tuple[Outcome, ...]:
        """Questions whose answer was not first."""
        return tuple(o for o in self.outcomes if o.rank != 1)

    def format(self) -> str:
        lines = [
            f"{len(self.outcomes)} questions: MRR@{self.k} {self.mrr:.3f}, recall@1 {self.recall_at(1):.3f}, "
            f"recall@3 {self.recall_at(3):.3f}; {len(self.misses)} not ranked first:"
        ]
        for o in self.misses:
            where = f"rank {o.rank}" if o.rank else "snippet lacks the answer" if o.answer_hidden else f"not in top {self.k}"
            lines.append(f"  - {o.question.q!r}: expected {o.question.expect} ({where})")
            if o.answer_hidden:
                snippet = next(s for key, s in o.ranked if key == o.question.expect)
                lines.append(f"      wanted {o.question.answer!r} in: {snippet}")
            lines.extend(f"      {i}. {key}" for i, (key, _) in enumerate(o.ranked[:3], 1))
        return "\n".join(lines)


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [Question(q=item["q"], expect=item["expect"], answer=item.get("answer")) for item in data["question"]]


def evaluate(search: Callable[[str, int], Sequence[tuple[str, str]]], questions: Sequence[Question], k: int = 5) -> Report:
    """Run every question through `search(text, k) -> (section key, snippet) pairs` and score the ranking."""
    return Report(tuple(Outcome(q, tuple(search(q.q, k))) for q in questions), k)


def _plain(text: str) -> str:
    """Text as read: no `**` marks, one case, single spaces."""
    return " ".join(text.replace("**", "").lower().split())


def url_key(url: str) -> str:
    """`https://docs…/webhooks#the-signing-secret` → `webhooks#the-signing-secret`."""
    return url.rsplit("/", 1)[-1]


def main(argv: Sequence[str] | None = None) -> int:
    from search.lifecycle import DocsIndex
    from search.settings import SearchSettings

    parser = argparse.ArgumentParser(prog="python -m search.evaluation", description=__doc__)
    parser.add_argument("--index", metavar="PATH", default=".index", help="the index folder (default: .index)")
    args = parser.parse_args(argv)
    index = DocsIndex.open(Path(args.index), SearchSettings())
    if not index.loaded:
        print("no index: run `statuspal-mcp build-index` first", file=sys.stderr)
        return 1
    report = evaluate(lambda q, k: [(url_key(h.url), h.snippet) for h in index.search(q, k)], load_questions())
    print(report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
