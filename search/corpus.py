"""The docs corpus: markdown pages with a small front matter, split into searchable sections.

A page file looks like::

    ---
    slug: webhooks
    description: One sentence that says what the page covers.
    ---
    # Outgoing webhooks
    ...

The front matter is plain `key: value` lines (no YAML dependency, no nesting): the slug fixes the page's URL
(`<docs_base_url>/<slug>`) and the MCP resource URI, so renaming a file never breaks a link. Sections are cut at
h1–h3 with markdown-it-py; deeper headings stay inside their section, because a search hit should be a passage
big enough to answer a question and small enough to read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

SECTION_LEVELS = ("h1", "h2", "h3")
TRAIL_SEPARATOR = " › "
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# A relative markdown link target: `conventions`, `notices#severity` or `#anchor` (not `https://…`, not `/x`).
_RELATIVE_LINK = re.compile(r"\]\((?P<target>(?:[a-z0-9][a-z0-9-]*)?(?:#[^)\s]*)?)\)")

_md = MarkdownIt("commonmark").enable("table")


class CorpusError(Exception):
    """A page that cannot be published as written; the message names the file and the problem."""


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    description: str
    path: Path
    # The page's markdown without its front matter (starts with the `# Title` line).
    markdown: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.slug}"

    def absolute_markdown(self, base_url: str) -> str:
        """The markdown with relative links made absolute, for readers that see the page out of the site."""

        def rewrite(m: re.Match[str]) -> str:
            target = m.group("target")
            if not target:
                return m.group(0)
            page, _, anchor = target.partition("#")
            url = self.url(base_url) if not page else f"{base_url.rstrip('/')}/{page}"
            return f"]({url}{'#' + anchor if anchor else ''})"

        return _RELATIVE_LINK.sub(rewrite, self.markdown)


@dataclass(frozen=True)
class Section:
    page_slug: str
    page_title: str
    level: int
    # Headings from the page title down to this section's own heading.
    trail: tuple[str, ...]
    anchor: str
    # Readable text with code blocks removed (inline code kept: `per_page` is prose in a sentence).
    prose: str
    # Fenced and indented code blocks, one after the other.
    code: str
    # The same text in reading order, as ("prose" | "code", text) blocks: a paragraph, list item or table row,
    # or a whole code block. Excerpts need it to show a code sample together with the sentence introducing it.
    passages: tuple[tuple[str, str], ...] = ()

    @property
    def heading(self) -> str:
        return self.trail[-1]

    @property
    def trail_text(self) -> str:
        return TRAIL_SEPARATOR.join(self.trail)

    @property
    def key(self) -> str:
        return f"{self.page_slug}#{self.anchor}"

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.page_slug}#{self.anchor}"


def github_anchor(text: str, seen: dict[str, int]) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens, `-1`, `-2`… on repeats.

    Using GitHub's rule means a link copied from the rendered markdown on GitHub and one produced by search agree.
    """
    base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in Path(corpus_dir).glob("*.md") if p.is_file())


def corpus_digest(corpus_dir: Path) -> str:
    """A hash of every page's bytes: tells whether an index was built from this exact corpus."""
    h = hashlib.sha256()
    for path in corpus_files(corpus_dir):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def load_pages(corpus_dir: Path) -> list[Page]:
    """Every page of the corpus, in file-name order (the files are numbered for reading order)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"docs corpus directory not found: {corpus_dir}")
    files = corpus_files(corpus_dir)
    if not files:
        raise CorpusError(f"no markdown pages (*.md) in {corpus_dir}")
    pages: list[Page] = []
    seen: dict[str, Path] = {}
    for path in files:
        page = parse_page(path)
        if page.slug in seen:
            raise CorpusError(f"{path.name}: slug {page.slug!r} is already used by {seen[page.slug].name}")
        seen[page.slug] = path
        pages.append(page)
    return pages


def parse_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    meta, body = _split_front_matter(path, text)
    slug = meta.get("slug", "")
    if not _SLUG_RE.match(slug):
        raise CorpusError(f"{path.name}: front matter needs a `slug:` of lowercase letters, digits and hyphens")
    first = body.lstrip("\n").split("\n", 1)[0]
    if not first.startswith("# "):
        raise CorpusError(f"{path.name}: the page must start with a `# Title` line after its front matter")
    return Page(
        slug=slug,
        title=first[2:].strip(),
        description=meta.get("description", "").strip(),
        path=path,
        markdown=body.lstrip("\n"),
    )


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, str], str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise CorpusError(f"{path.name}: missing front matter (a `---` block with slug and description)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise CorpusError(f"{path.name}: front matter is not closed by a `---` line") from None
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise CorpusError(f"{path.name}: front matter line is not `key: value`: {line!r}")
        meta[key.strip()] = value.strip()
    return meta, "\n".join(lines[end + 1 :])


def split_sections(page: Page) -> list[Section]:
    """Cut a page into sections at h1–h3, keeping the heading trail, the anchor, prose and code apart."""
    tokens = _md.parse(page.markdown)
    sections: list[Section] = []
    seen_anchors: dict[str, int] = {}
    trail: list[tuple[int, str]] = []
    current: dict | None = None
    row: list[str] | None = None

    def close() -> None:
        if current is not None:
            sections.append(
                Section(
                    page_slug=page.slug,
                    page_title=page.title,
                    level=current["level"],
                    trail=current["trail"],
                    anchor=current["anchor"],
                    prose="\n".join(b for b in current["prose"] if b),
                    code="\n".join(current["code"]),
                    passages=tuple(current["flow"]),
                )
            )

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open" and tok.tag in SECTION_LEVELS:
            level = int(tok.tag[1])
            heading = _inline_text(tokens[i + 1])
            close()
            trail = [t for t in trail if t[0] < level] + [(level, heading)]
            current = {
                "level": level,
                "trail": tuple(h for _, h in trail),
                "anchor": github_anchor(heading, seen_anchors),
                "prose": [],
                "code": [],
                "flow": [],
            }
            i += 3  # heading_open, inline, heading_close
            continue
        if current is None:
            raise CorpusError(f"{page.path.name}: text before the page's `# Title` line")
        if tok.type == "heading_open":  # h4–h6: part of the enclosing section's prose, still searchable
            _add_prose(current, _inline_text(tokens[i + 1]))
            i += 3
            continue
        if tok.type in ("fence", "code_block"):
            current["code"].append(tok.content.rstrip("\n"))
            current["flow"].append(("code", tok.content.rstrip("\n")))
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close" and row is not None:
            _add_prose(current, " | ".join(row))
            row = None
        elif tok.type == "inline":
            text = _inline_text(tok)
            if row is not None:
                row.append(text)
            else:
                _add_prose(current, text)
        i += 1
    close()
    return sections


def _add_prose(current: dict, text: str) -> None:
    current["prose"].append(text)
    if text:
        current["flow"].append(("prose", " ".join(text.split())))


def _inline_text(tok: Token) -> str:
    """Plain text of an inline token: emphasis and link markup dropped, inline code kept as its text."""
    parts: list[str] = []
    for child in tok.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts).strip()
