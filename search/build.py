"""Build the docs index aside, then swap it in with one atomic rename.

Layout of the index directory (git-ignored)::

    <index_dir>/CURRENT        the name of the live build, replaced atomically (os.replace)
    <index_dir>/builds/<id>/   one complete Whoosh index per build, never modified after it is published
    <index_dir>/.lock          held while a build runs, so two builds cannot interleave

A build is written under `builds/<id>.partial`, renamed to `builds/<id>` once complete, and only then named in
`CURRENT`. A reader follows `CURRENT`, so it can only ever open a finished build: a crash mid-build leaves the
previous index serving. The previous build is kept (a gateway that has not reloaded yet still reads it); older
ones and crashed leftovers are removed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from whoosh import index as whoosh_index

from search.corpus import CorpusError, corpus_digest, load_pages, split_sections
from search.schema import SCHEMA

if TYPE_CHECKING:
    from search.settings import SearchSettings

CURRENT = "CURRENT"
BUILDS = "builds"
PARTIAL = ".partial"
BUILD_INFO = "build.json"

Progress = Callable[[str], None]


class BuildError(Exception):
    """The index could not be built; the message says why, for an operator."""


@dataclass(frozen=True)
class BuildInfo:
    build_id: str
    path: str
    pages: int
    sections: int
    seconds: float
    size_bytes: int
    corpus_digest: str
    docs_base_url: str


def current_build(index_dir: Path) -> tuple[str, Path] | None:
    """The live build's id and directory, or None when nothing has been built yet."""
    try:
        build_id = (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not build_id or "/" in build_id or build_id.startswith("."):
        return None
    path = Path(index_dir) / BUILDS / build_id
    return (build_id, path) if path.is_dir() else None


def build_index(
    corpus_dir: Path | str,
    index_dir: Path | str,
    docs_base_url: str,
    progress: Progress | None = None,
) -> BuildInfo:
    """Index every section of the corpus into a new build and make it the current one."""
    say = progress or (lambda message: None)
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    if not docs_base_url.startswith(("https://", "http://")):
        raise BuildError(f"docs_base_url must be an http(s) URL, got {docs_base_url!r}")
    base = docs_base_url.rstrip("/")
    started = time.perf_counter()

    try:
        pages = load_pages(corpus_dir)
    except CorpusError as exc:
        raise BuildError(str(exc)) from None
    sections = [s for page in pages for s in split_sections(page)]
    say(f"read {len(pages)} pages, {len(sections)} sections from {corpus_dir}")

    builds = index_dir / BUILDS
    try:
        builds.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create the index directory {index_dir}: {exc.strerror}") from None

    with _exclusive(index_dir / ".lock"):
        previous = current_build(index_dir)
        build_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
        partial = builds / (build_id + PARTIAL)
        partial.mkdir()
        try:
            ix = whoosh_index.create_in(str(partial), SCHEMA)
            writer = ix.writer()
            step = max(1, len(sections) // 4)
            for n, section in enumerate(sections, 1):
                writer.add_document(
                    key=section.key,
                    url=section.url(base),
                    page=section.page_slug,
                    title=section.page_title,
                    trail=section.trail_text,
                    heading=section.heading,
                    # One line of text: snippets read as sentences, and offsets stay valid for highlighting.
                    body=" ".join(section.prose.split()),
                    code=section.code,
                    passages=section.passages,
                )
                if n % step == 0 or n == len(sections):
                    say(f"indexed {n}/{len(sections)} sections")
            writer.commit()
            info = BuildInfo(
                build_id=build_id,
                path=str(builds / build_id),
                pages=len(pages),
                sections=len(sections),
                seconds=round(time.perf_counter() - started, 3),
                size_bytes=sum(p.stat().st_size for p in partial.iterdir()),
                corpus_digest=corpus_digest(corpus_dir),
                docs_base_url=base,
            )
            (partial / BUILD_INFO).write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
            _fsync_dir(partial)
            partial.rename(builds / build_id)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _publish(index_dir, build_id)
        say(f"published build {build_id}")
        _remove_old_builds(builds, keep={build_id, previous[0] if previous else ""})
    return info


def _publish(index_dir: Path, build_id: str) -> None:
    """Point CURRENT at the new build: write a temporary file, flush it to disk, rename it over the old one."""
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(build_id + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)


def _remove_old_builds(builds: Path, keep: set[str]) -> None:
    for path in builds.iterdir():
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` for the duration of the block (released if the process dies)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --- command line: `statuspal-mcp build-index` and `scripts/build_index.py` share these ---------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", metavar="PATH", help="folder of markdown pages (default: [search] corpus_dir)")
    parser.add_argument("--output", metavar="PATH", help="index folder (default: [search] index_dir)")
    parser.add_argument("--base-url", metavar="URL", help="docs site URL for links (default: [search] docs_base_url)")
    parser.add_argument("--quiet", action="store_true", help="print only errors")


def run(args: argparse.Namespace, settings: SearchSettings, root: Path) -> int:
    """Build with the paths from the arguments or the settings (relative ones from `root`, the configuration's
    folder); returns the process exit code."""
    corpus = Path(args.corpus) if args.corpus else root / settings.corpus_dir
    output = Path(args.output) if args.output else root / settings.index_dir
    base_url = args.base_url or settings.docs_base_url

    def say(message: str) -> None:
        if not args.quiet:
            print(f"build-index: {message}", flush=True)

    try:
        info = build_index(corpus, output, base_url, progress=say)
    except BuildError as exc:
        print(f"build-index: error: {exc}", file=sys.stderr)
        return 1
    say(f"done in {info.seconds:.2f}s: {info.pages} pages, {info.sections} sections, {info.size_bytes / 1024:.0f} KiB at {output}")
    return 0
