"""Relevance gates over realistic questions (tests/relevance_questions.toml): does the answer come first?

`pytest -s` prints the report of every question whose section was not ranked first; a failing gate carries the
same report in its message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.corpus import load_pages, split_sections
from search.evaluation import Report, evaluate, load_questions, url_key

CORPUS = Path(__file__).resolve().parent.parent / "docs_corpus"
MRR_AT_5 = 0.85
RECALL_AT_3 = 0.9


@pytest.fixture(scope="module")
def questions():
    return load_questions()


@pytest.fixture(scope="module")
def report(docs_index, questions) -> Report:
    result = evaluate(lambda q, k: [url_key(h.url) for h in docs_index.search(q, k)], questions, k=5)
    print("\n" + result.format())
    return result


def test_the_question_set_is_large_and_points_at_real_sections(questions):
    assert len(questions) >= 40
    sections = {s.key for p in load_pages(CORPUS) for s in split_sections(p)}
    unknown = [q.expect for q in questions if q.expect not in sections]
    assert not unknown, f"questions expect sections that do not exist: {unknown}"
    assert len({q.q for q in questions}) == len(questions), "a question is listed twice"


def test_mrr_at_5_meets_the_gate(report):
    assert report.mrr >= MRR_AT_5, f"MRR@5 {report.mrr:.3f} < {MRR_AT_5}\n{report.format()}"


def test_recall_at_3_meets_the_gate(report):
    assert report.recall_at(3) >= RECALL_AT_3, f"recall@3 {report.recall_at(3):.3f} < {RECALL_AT_3}\n{report.format()}"
