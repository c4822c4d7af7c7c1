"""Docs search benchmark: our Whoosh index against SQLite FTS5 (BM25) over the same sections and questions.

    python -m bench.search_bench [--rounds 30]

Both engines index exactly the sections `search.corpus` produces and answer every question of
tests/relevance_questions.toml; the figures are quality (MRR@5, recall@3) and speed (query p50/p99 including
snippets, full build time, size on disk). FTS5 gets a fair setup: Porter stemming, the same stopwords,
per-column BM25 weights mirroring our field boosts, its own snippet() for excerpts.
Targets: MRR@5 above FTS5's, p50 ≤ 2 ms, p99 ≤ 10 ms, full build ≤ 3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from search.build import build_index, current_build
from search.corpus import Section, load_pages, split_sections
from search.evaluation import Question, Report, evaluate, load_questions, url_key
from search.lifecycle import DocsIndex
from search.schema import FIELD_BOOSTS, STOPWORDS
from search.settings import SearchSettings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "docs_corpus"
BASE = "https://docs.example.test"


@dataclass
class EngineResult:
    name: str
    report: Report
    latencies: list[float]  # seconds, one per query
    build_seconds: float
    open_seconds: float  # from files on disk to answering the first query
    size_bytes: int

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def time_queries(search: Callable[[str], object], questions: Sequence[Question], rounds: int) -> list[float]:
    for q in questions:  # warm-up: caches, page cache, stemmer memo
        search(q.q)
    latencies = []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            search(q.q)
            latencies.append(time.perf_counter() - t)
    return latencies


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- ours -------------------------------------------------------------------------------------------------


def run_whoosh(workdir: Path, questions: Sequence[Question], rounds: int, builds: int) -> EngineResult:
    index_dir = workdir / "whoosh"
    times = []
    for _ in range(builds):
        t = time.perf_counter()
        build_index(CORPUS, index_dir, BASE)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    docs = DocsIndex.open(index_dir, SearchSettings())
    opened = time.perf_counter() - t
    report = evaluate(lambda q, k: [(url_key(h.url), h.snippet) for h in docs.search(q, k)], questions)
    # The gateway keeps finished results per build; timed without that cache, this is the search itself.
    latencies = time_queries(lambda q: docs.search(q, 5, cache=False), questions, rounds)
    live = current_build(index_dir)
    assert live is not None, "build_index just published a build"
    _, build = live
    return EngineResult("Whoosh (ours)", report, latencies, statistics.median(times), opened, dir_size(build))


# --- SQLite FTS5 ------------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


class Fts5:
    """The same sections in an FTS5 table; questions become an OR of their quoted words, ranked by bm25()."""

    COLUMNS = ("heading", "trail", "title", "body", "code")

    @staticmethod
    def build(path: Path, sections: Sequence[Section]) -> None:
        path.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(
                "CREATE VIRTUAL TABLE sections USING fts5(key UNINDEXED, heading, trail, title, body, code, "
                "tokenize = 'porter unicode61')"
            )
            db.executemany(
                "INSERT INTO sections VALUES (?, ?, ?, ?, ?, ?)",
                [(s.key, s.heading, s.trail_text, s.page_title, " ".join(s.prose.split()), s.code) for s in sections],
            )
            db.execute("INSERT INTO sections(sections) VALUES ('optimize')")
            db.commit()

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        weights = ", ".join(str(FIELD_BOOSTS[c]) for c in self.COLUMNS)
        # bm25() is "lower is better"; the key column (unindexed) takes weight 0.
        self.sql = (
            f"SELECT key, snippet(sections, 4, '**', '**', '…', 30) FROM sections WHERE sections MATCH ? "
            f"ORDER BY bm25(sections, 0, {weights}) LIMIT ?"
        )
        self.search("warm up", 1)

    def search(self, question: str, limit: int) -> list[tuple[str, str]]:
        words = [w for w in (m.group(0).lower() for m in _WORD.finditer(question)) if w not in STOPWORDS]
        if not words:
            return []
        # Quoting every word keeps FTS5's own query syntax (AND, NEAR, *, column:) out of the way.
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words))
        return self.db.execute(self.sql, (match, limit)).fetchall()


def run_fts5(workdir: Path, questions: Sequence[Question], rounds: int, builds: int) -> EngineResult:
    path = workdir / "fts5.sqlite"
    times = []
    for _ in range(builds):
        t = time.perf_counter()
        # The full build, as for Whoosh: read and split the corpus, then index it.
        sections = [s for page in load_pages(CORPUS) for s in split_sections(page)]
        Fts5.build(path, sections)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    engine = Fts5(path)
    opened = time.perf_counter() - t
    report = evaluate(engine.search, questions)
    latencies = time_queries(lambda q: engine.search(q, 5), questions, rounds)
    return EngineResult("SQLite FTS5 bm25", report, latencies, statistics.median(times), opened, path.stat().st_size)


# --- report -----------------------------------------------------------------------------------------------


def print_table(ours: EngineResult, peer: EngineResult, questions: int, rounds: int) -> list[str]:
    rows = [
        ("MRR@5", f"{ours.report.mrr:.3f}", f"{peer.report.mrr:.3f}", f"{ours.report.mrr / peer.report.mrr:.2f}x"),
        ("recall@1", f"{ours.report.recall_at(1):.3f}", f"{peer.report.recall_at(1):.3f}", ""),
        ("recall@3", f"{ours.report.recall_at(3):.3f}", f"{peer.report.recall_at(3):.3f}", ""),
        ("query p50", f"{ours.p(0.5):.3f} ms", f"{peer.p(0.5):.3f} ms", f"{ours.p(0.5) / peer.p(0.5):.2f}x"),
        ("query p99", f"{ours.p(0.99):.3f} ms", f"{peer.p(0.99):.3f} ms", f"{ours.p(0.99) / peer.p(0.99):.2f}x"),
        ("full build", f"{ours.build_seconds:.3f} s", f"{peer.build_seconds:.3f} s", f"{ours.build_seconds / peer.build_seconds:.2f}x"),
        ("open index", f"{ours.open_seconds * 1000:.0f} ms", f"{peer.open_seconds * 1000:.0f} ms", ""),
        ("index size", f"{ours.size_bytes / 1024:.0f} KiB", f"{peer.size_bytes / 1024:.0f} KiB", f"{ours.size_bytes / peer.size_bytes:.2f}x"),
    ]
    header = ("", ours.name, peer.name, "ours/peer")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(4)]
    lines = [f"{questions} questions, {rounds} timed rounds ({questions * rounds} queries per engine)", ""]
    for r in (header, *rows):
        lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        if r is header:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    targets = [
        ("MRR@5 above FTS5's", ours.report.mrr > peer.report.mrr),
        ("p50 <= 2 ms", ours.p(0.5) <= 2.0),
        ("p99 <= 10 ms", ours.p(0.99) <= 10.0),
        ("full build <= 3 s", ours.build_seconds <= 3.0),
    ]
    lines.append("")
    lines.extend(f"target {name}: {'met' if ok else 'MISSED'}" for name, ok in targets)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed passes over the question set (default 30)")
    parser.add_argument("--builds", type=int, default=3, help="full builds timed per engine; the median is shown")
    parser.add_argument("--misses", action="store_true", help="also print each engine's questions not ranked first")
    args = parser.parse_args(argv)
    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        ours = run_whoosh(Path(tmp), questions, args.rounds, args.builds)
        peer = run_fts5(Path(tmp), questions, args.rounds, args.builds)
    print("\n".join(print_table(ours, peer, len(questions), args.rounds)))
    if args.misses:
        for engine in (ours, peer):
            print(f"\n{engine.name}: {engine.report.format()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
