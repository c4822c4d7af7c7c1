"""Docs search as a user of `search_docs` sees it: sections with links and snippets, robust to any text, and a
running index that picks up a rebuilt corpus without a restart and never serves a half-built one."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from search import build as build_module
from search.build import BuildError, build_index, current_build
from search.corpus import Page, github_anchor, load_pages, split_sections
from search.lifecycle import DocsIndex, IndexNotReady
from search.settings import SearchSettings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "docs_corpus"
BASE = SearchSettings().docs_base_url



def copy_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


# --- sections -------------------------------------------------------------------------------------------


def test_anchors_follow_githubs_rules():
    seen: dict[str, int] = {}
    assert github_anchor("Validation failed (422)", seen) == "validation-failed-422"
    assert github_anchor("Web assistants: Claude and ChatGPT", seen) == "web-assistants-claude-and-chatgpt"
    assert github_anchor("Containers (regions)", seen) == "containers-regions"
    assert github_anchor("`per_page` limits", seen) == "per_page-limits"
    assert github_anchor("Errors", seen) == "errors"
    assert github_anchor("Errors", seen) == "errors-1"
    assert github_anchor("Errors", seen) == "errors-2"


def test_pages_split_at_h1_to_h3_with_trail_prose_and_code_apart(tmp_path):
    path = tmp_path / "p.md"
    path.write_text(
        "---\nslug: demo\ndescription: d\n---\n# Demo page\nIntro with `per_page`.\n\n## Setup\nRun this:\n\n"
        "```bash\ncurl -sS https://x\n```\n\n### Deep part\n| A | B |\n|---|---|\n| one | two |\n\n"
        "#### Not a section\nStill deep.\n\n## Setup\nAgain.\n",
        encoding="utf-8",
    )
    from search.corpus import parse_page

    sections = split_sections(parse_page(path))
    assert [s.trail for s in sections] == [
        ("Demo page",),
        ("Demo page", "Setup"),
        ("Demo page", "Setup", "Deep part"),
        ("Demo page", "Setup"),
    ]
    assert [s.anchor for s in sections] == ["demo-page", "setup", "deep-part", "setup-1"]
    assert "per_page" in sections[0].prose
    assert "curl" in sections[1].code and "curl" not in sections[1].prose
    assert "one | two" in sections[2].prose and "Not a section" in sections[2].prose
    # Excerpts read the section in order: the sentence introducing a sample, then the sample.
    assert sections[1].passages == (("prose", "Run this:"), ("code", "curl -sS https://x"))


@pytest.mark.parametrize(
    "text, problem",
    [
        ("# No front matter\n", "missing front matter"),
        ("---\nslug: Bad Slug\n---\n# T\n", "slug"),
        ("---\nslug: ok\n---\nNo title\n", "# Title"),
        ("---\nslug: ok\n", "not closed"),
    ],
)
def test_a_malformed_page_fails_the_build_with_its_file_name(tmp_path, text, problem):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.md").write_text(text, encoding="utf-8")
    with pytest.raises(BuildError, match=problem) as err:
        build_index(corpus, tmp_path / "index", BASE)
    assert "broken.md" in str(err.value)


def test_relative_links_become_absolute_for_readers_outside_the_site(tmp_path):
    page = Page("a", "A", "", tmp_path / "a.md", "# A\nSee [x](conventions#errors), [y](#z) and [w](https://e.x/p).")
    text = page.absolute_markdown(BASE)
    assert f"[x]({BASE}/conventions#errors)" in text
    assert f"[y]({BASE}/a#z)" in text
    assert "[w](https://e.x/p)" in text


# --- hits -----------------------------------------------------------------------------------------------


def test_a_hit_carries_title_section_link_snippet_and_score(docs_index):
    hits = docs_index.search("how do I rotate a webhook's signing secret?", 5)
    assert hits, "no hits"
    top = hits[0]
    assert top.url == f"{BASE}/webhooks#rotate-the-signing-secret"
    assert top.title == "Outgoing webhooks"
    assert top.section == "Outgoing webhooks › The signing secret › Rotate the signing secret"
    assert "**" in top.snippet and len(top.snippet) <= 300
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_every_snippet_fits_in_300_characters(docs_index):
    for query in ("page", "status page services containers notices webhooks", "the", "api key"):
        for hit in docs_index.search(query, 20):
            assert len(hit.snippet) <= 300, (query, hit.url, len(hit.snippet))


def plain(snippet: str) -> str:
    return snippet.replace("**", "")


def test_a_snippet_starts_at_the_sentence_that_answers_not_the_sections_first_words(docs_index):
    top = docs_index.search("how many requests per second am I allowed to make?", 1)[0]
    assert top.url.endswith("conventions#rate-limits")
    # The section opens with "StatusPal has not published a server-side limit…"; the answer comes later.
    assert "ten requests per second" in plain(top.snippet)
    assert not plain(top.snippet).startswith("StatusPal has not published")


def test_a_question_asking_for_a_format_or_command_gets_the_code_line_and_its_introduction(docs_index):
    base = docs_index.search("what's the base url of the api", 1)[0]
    assert plain(base.snippet).startswith("All paths in these docs are relative to: https://next.statuspal.io/api/v1")
    curl = docs_index.search("curl command to create a region", 1)[0]
    assert "curl -sS -X POST https://next.statuspal.io/api/v1/status_pages/acme-status/containers" in plain(curl.snippet)
    # Without such a cue, code (which repeats field names everywhere) does not crowd out the prose answer.
    leaked = docs_index.search("I think my key leaked, how can I revoke it?", 1)[0]
    assert "from the same API keys section" in plain(leaked.snippet)


def test_an_identifier_matched_whole_is_marked_once(docs_index):
    hit = docs_index.search("which endpoint does resolve_incident call", 1)[0]
    assert "**resolve_incident**" in hit.snippet
    assert "****" not in hit.snippet and "**resolve**_**incident**" not in hit.snippet


def test_limit_bounds_the_number_of_hits(docs_index):
    assert len(docs_index.search("status", 1)) == 1
    assert len(docs_index.search("status", 20)) == 20
    with pytest.raises(ValueError):
        docs_index.search("status", 0)


def test_word_forms_match_through_stemming(docs_index):
    assert docs_index.search("rotating secrets", 1)[0].url.endswith("#rotate-the-signing-secret")


def test_synonyms_find_the_words_the_docs_use(docs_index):
    # The docs never say "outage" in a heading, nor "callback" anywhere: users do.
    assert docs_index.search("callback events", 1)[0].url.endswith("webhooks#webhook-events")
    assert "notices" in docs_index.search("outage severity", 1)[0].url


def test_misspellings_are_corrected_and_the_message_says_so(docs_index):
    results = docs_index.search("webhok singing secrt", 3)
    assert results and results[0].url.startswith(f"{BASE}/webhooks#")
    assert "'webhook' (for 'webhok')" in results.message
    # A typo in the first letter is found too; three-letter words are too short to guess at.
    assert "'webhook' (for 'ebhook')" in docs_index.search("ebhook", 1).message
    assert docs_index.search("xqz", 1).message.startswith("No section")


def test_quoted_phrases_favour_sections_with_the_exact_phrase(docs_index):
    # Loose, "only" and "once" are scattered over many sections; together, they say how often a key is shown.
    assert docs_index.search("only once", 1)[0].url != f"{BASE}/getting-started#get-an-api-key"
    phrase = docs_index.search('"only once"', 1)[0]
    assert phrase.url == f"{BASE}/getting-started#get-an-api-key"
    assert "**only** **once**" in phrase.snippet


def test_exact_identifiers_find_their_section(docs_index):
    assert docs_index.search("status_page_subdomains", 1)[0].url.endswith("webhooks#limit-a-webhook-to-some-status-pages")
    assert docs_index.search("rss_feed_enabled", 1)[0].url.endswith("status-pages#notification-settings")
    assert docs_index.search("rotate_webhook_secret", 1)[0].url.endswith("mcp-tools#webhook-tools")


@pytest.mark.parametrize(
    "query",
    [
        "foo AND",
        "AND OR NOT",
        "*",
        "?",
        '"',
        '"unterminated phrase',
        "",
        "   \t\n",
        "title:webhook",
        "webhook~2",
        "[a TO z]",
        "(((webhook",
        "\\",
        "'; DROP TABLE sections; --",
        "ünïcödé 🚀 страница",
        "x" * 10_000,
        "rotate webhook secret " * 500,
    ],
)
def test_no_query_syntax_leaks_and_odd_text_gets_results_or_a_message(docs_index, query):
    results = docs_index.search(query, 5)
    assert isinstance(results, list)
    assert results or results.message, "neither hits nor an explanation"


def test_odd_queries_are_explained(docs_index):
    assert "no searchable words" in docs_index.search("*", 5).message
    assert "no searchable words" in docs_index.search("", 5).message
    assert "No section of the docs mentions" in docs_index.search("foo AND", 5).message
    long = docs_index.search("rotate webhook secret " * 500, 5)
    assert long and long[0].url.startswith(f"{BASE}/webhooks#")
    assert "Only the first" in long.message
    # Operators are words, not syntax: "title:webhook" searches for the words title and webhook.
    fielded = docs_index.search("title:webhook", 5)
    assert fielded and fielded.message is None


def test_an_empty_index_directory_is_not_ready(tmp_path):
    docs = DocsIndex(tmp_path / "nothing-here", SearchSettings())
    assert not docs.loaded
    with pytest.raises(IndexNotReady, match="build-index"):
        docs.search("webhook", 5)


# --- build and swap -------------------------------------------------------------------------------------


def test_a_build_is_published_through_current_and_old_builds_are_cleaned(tmp_path):
    index = tmp_path / "index"
    first = build_index(CORPUS, index, BASE)
    second = build_index(CORPUS, index, BASE)
    third = build_index(CORPUS, index, BASE)
    assert current_build(index)[0] == third.build_id
    # The previous build stays for a gateway that has not reloaded yet; older ones go.
    assert sorted(p.name for p in (index / "builds").iterdir()) == sorted([second.build_id, third.build_id])
    assert first.build_id not in os.listdir(index / "builds")
    assert third.pages == len(load_pages(CORPUS)) and third.sections > 50


def test_a_failed_build_leaves_the_published_index_untouched(tmp_path, monkeypatch):
    index = tmp_path / "index"
    good = build_index(CORPUS, index, BASE)
    docs = DocsIndex.open(index, SearchSettings())

    class Crash(Exception):
        pass

    def crash(*args, **kwargs):
        raise Crash("disk full")

    monkeypatch.setattr(build_module, "_publish", crash)
    with pytest.raises(Crash):
        build_index(CORPUS, index, BASE)
    assert current_build(index)[0] == good.build_id
    assert not docs.reload()
    assert docs.build_id == good.build_id and docs.search("webhook", 1)
    # The half-written build was renamed into place but never published; the next build clears it away.
    monkeypatch.undo()
    newest = build_index(CORPUS, index, BASE)
    assert sorted(p.name for p in (index / "builds").iterdir()) == sorted([good.build_id, newest.build_id])


def test_a_crash_while_writing_leaves_no_partial_build(tmp_path, monkeypatch):
    index = tmp_path / "index"
    good = build_index(CORPUS, index, BASE)
    from whoosh.writing import SegmentWriter

    def crash(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(SegmentWriter, "commit", crash)
    with pytest.raises(OSError):
        build_index(CORPUS, index, BASE)
    assert current_build(index)[0] == good.build_id
    assert [p.name for p in (index / "builds").iterdir()] == [good.build_id]


def test_bad_build_arguments_are_clear(tmp_path):
    with pytest.raises(BuildError, match="not found"):
        build_index(tmp_path / "missing", tmp_path / "index", BASE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="no markdown pages"):
        build_index(tmp_path / "empty", tmp_path / "index", BASE)
    with pytest.raises(BuildError, match="docs_base_url"):
        build_index(CORPUS, tmp_path / "index", "docs.example.test")


async def test_a_running_index_picks_up_a_rebuild_without_restart(tmp_path):
    corpus = copy_corpus(tmp_path)
    index = tmp_path / "index"
    build_index(corpus, index, BASE)
    docs = DocsIndex(index, SearchSettings(reload_interval_seconds=0.05))
    await docs.start()
    try:
        assert not docs.search("zanzibar", 5)
        page = corpus / "02-conventions.md"
        page.write_text(page.read_text() + "\n## Zanzibar mode\nZanzibar mode answers every request twice.\n")
        first = docs.build_id
        rebuild = asyncio.create_task(asyncio.to_thread(build_index, corpus, index, BASE))
        # Searches keep answering from a complete build while the new one is written and swapped in.
        while not rebuild.done() or docs.build_id == first:
            assert docs.search("pagination per_page", 1), "a search failed during the rebuild"
            await asyncio.sleep(0.01)
        await rebuild
        hits = docs.search("zanzibar", 5)
        assert hits and hits[0].url == f"{BASE}/conventions#zanzibar-mode"
    finally:
        await docs.stop()
    assert not docs.loaded


async def test_a_corrupt_new_build_is_skipped_and_the_old_one_keeps_serving(tmp_path, caplog):
    index = tmp_path / "index"
    good = build_index(CORPUS, index, BASE)
    docs = DocsIndex(index, SearchSettings(reload_interval_seconds=0.02))
    await docs.start()
    try:
        bogus = index / "builds" / "bogus"
        bogus.mkdir()
        (index / "CURRENT").write_text("bogus\n")

        async def reload_refused() -> None:
            while not any("reload failed" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(reload_refused(), 10)  # the watcher has tried the bogus build and turned it down
        assert docs.build_id == good.build_id and docs.search("webhook", 1)
    finally:
        await docs.stop()


# --- command line ---------------------------------------------------------------------------------------


def test_the_build_script_shows_progress_and_builds_where_asked(tmp_path):
    out = tmp_path / "idx"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_index.py"), "--corpus", str(CORPUS), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "indexed" in run.stdout and "done in" in run.stdout
    assert current_build(out) is not None


def test_the_cli_subcommand_reports_a_bad_corpus_in_one_line(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "build-index", "--corpus", str(tmp_path / "nope"), "--output", str(tmp_path / "i")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "docs corpus directory not found" in run.stderr
    assert "Traceback" not in run.stderr
