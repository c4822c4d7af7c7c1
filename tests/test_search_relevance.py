"""Relevance gates over realistic questions (tests/relevance_questions.toml): does the answer come first?

`pytest -s` prints the report of every question whose section was not ranked first; a failing gate carries the
same report in its message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.corpus import load_pages, split_sections
from search.evaluation import Outcome, Question, Report, evaluate, load_questions, url_key

CORPUS = Path(__file__).resolve().parent.parent / "docs_corpus"
MRR_AT_5 = 0.85
RECALL_AT_3 = 0.9


@pytest.fixture(scope="module")
def questions():
    return load_questions()


@pytest.fixture(scope="module")
def report(docs_index, questions) -> Report:
    result = evaluate(lambda q, k: [(url_key(h.url), h.snippet) for h in docs_index.search(q, k)], questions, k=5)
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


def test_a_right_section_whose_snippet_hides_the_answer_counts_as_a_miss(questions):
    question = Question(q="q", expect="conventions#rate-limits", answer="ten requests per second")
    shown = ("conventions#rate-limits", "…send at most **ten** requests per **second** per key…")
    hidden = ("conventions#rate-limits", "StatusPal has not published a server-side limit for the Next API.")
    other = ("conventions#errors", "ten requests per second")
    assert Outcome(question, (other, shown)).rank == 2
    assert Outcome(question, (hidden, other)).rank is None and Outcome(question, (hidden,)).answer_hidden
    assert "snippet lacks the answer" in Report((Outcome(question, (hidden,)),), 5).format()
    # The set holds such questions, on sections across the corpus.
    with_answers = [q for q in questions if q.answer]
    assert len(with_answers) >= 40 and len({q.expect.split("#")[0] for q in with_answers}) >= 8
