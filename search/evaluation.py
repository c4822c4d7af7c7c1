"""Relevance measured the way a user feels it: is the answering section first, or at least near the top?

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


@dataclass(frozen=True)
class Outcome:
    question: Question
    ranked: tuple[str, ...]  # keys of the sections returned, best first

    @property
    def rank(self) -> int | None:
        """1-based position of the expected section, None when it was not returned."""
        try:
            return self.ranked.index(self.question.expect) + 1
        except ValueError:
            return None


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
            where = f"rank {o.rank}" if o.rank else f"not in top {self.k}"
            lines.append(f"  - {o.question.q!r}: expected {o.question.expect} ({where})")
            lines.extend(f"      {i}. {key}" for i, key in enumerate(o.ranked[:3], 1))
        return "\n".join(lines)


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [Question(q=item["q"], expect=item["expect"]) for item in data["question"]]


def evaluate(search: Callable[[str, int], Sequence[str]], questions: Sequence[Question], k: int = 5) -> Report:
    """Run every question through `search(text, k) -> section keys` and score the ranking."""
    return Report(tuple(Outcome(q, tuple(search(q.q, k))) for q in questions), k)


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
    report = evaluate(lambda q, k: [url_key(h.url) for h in index.search(q, k)], load_questions())
    print(report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
