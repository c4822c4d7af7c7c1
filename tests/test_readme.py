"""The README and the pages under docs/ link only to files and headings that exist.

The README stays short by linking to one page per subject under docs/; a page renamed or a heading reworded must
not leave a reader at a dead link. Links to other sites are not checked (that would need the network).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt

from search.corpus import github_anchor

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_md = MarkdownIt("commonmark").enable("table")


def _tokens(path: Path):
    return _md.parse(path.read_text(encoding="utf-8"))


def anchors(path: Path) -> set[str]:
    """Every heading's anchor as GitHub renders it (the same rule search uses for docs_corpus/)."""
    tokens = _tokens(path)
    seen: dict[str, int] = {}
    found = set()
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            inline = tokens[i + 1]
            text = "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))
            found.add(github_anchor(text, seen))
    return found


def relative_links(path: Path) -> list[str]:
    """Link targets that point inside the repository (no scheme, not protocol-relative)."""
    targets = []
    for tok in _tokens(path):
        for child in tok.children or []:
            if child.type == "link_open":
                href = str(child.attrs.get("href", ""))
                if "://" in href or href.startswith(("mailto:", "//")):
                    continue
                targets.append(href)
    return targets


def test_there_is_something_to_check():
    assert (ROOT / "docs").is_dir(), "docs/ holds the README's longer pages"
    assert len(DOCS) > 1


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_heading(path: Path):
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.relative_to(ROOT)}")
    assert not broken, f"broken links in {path.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(ROOT / "README.md") if t.partition("#")[0]}
    orphans = [p.name for p in DOCS[1:] if p.resolve() not in linked]
    assert not orphans, f"docs/ pages no README link leads to: {orphans}"


def test_anchors_follow_githubs_rule(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# The `notify` rule\n\n## Notes\n\n## Notes\n\n```\n# not a heading\n```\n")
    assert anchors(page) == {"the-notify-rule", "notes", "notes-1"}
