"""The committed publish preview is what its source builds to, from the pinned packages alone.

The view is served from a committed file so `make run` needs no Node. This test copies views/publish-preview (source,
manifest, lockfile; never a local node_modules) into a scratch folder, installs it with `npm ci --offline` from the
npm cache `make node` fills, runs the build (type-check, bundle, inline) and compares bytes: a source edit without
`make view`, a hand edit of the built file, or a build that is not deterministic fails here.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conformance.node import NODE, NODE_DIR, ROOT, require

pytestmark = pytest.mark.node

SOURCE = ROOT / "views" / "publish-preview"
BUILT = ROOT / "gateway" / "protocol" / "views" / "publish_preview.html"
NPM_CACHE = NODE_DIR / "npm-cache"
# A guard against a hung npm, not a performance assertion: the install and the build take a few seconds.
TIMEOUT = 180


def node_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=node_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False)


def build_from_scratch(scratch: Path) -> Path:
    """Copy the view's source into `scratch`, install its lockfile offline, build; returns the built file's path."""
    require()
    if not shutil.which("npm", path=node_env()["PATH"]):
        pytest.fail("npm is not installed: run `make node`", pytrace=False)
    if not NPM_CACHE.is_dir():
        pytest.fail(f"{NPM_CACHE.relative_to(ROOT)} is missing: run `rm -rf .node/publish-preview && make node`", pytrace=False)
    work = scratch / "publish-preview"
    shutil.copytree(SOURCE, work, ignore=shutil.ignore_patterns("node_modules"))
    npm = run(["npm", "ci", "--offline", "--cache", str(NPM_CACHE), "--ignore-scripts", "--no-audit", "--no-fund",
               "--loglevel=error"], work)
    assert npm.returncode == 0, f"npm ci --offline failed (run `make node` to fill the cache):\n{npm.stdout}\n{npm.stderr}"
    out = scratch / "publish_preview.html"
    built = run([str(NODE), "build.mjs", str(out)], work)
    assert built.returncode == 0, f"the view does not build:\n{built.stdout}\n{built.stderr}"
    return out


def test_the_committed_view_is_what_the_pinned_source_builds(tmp_path: Path) -> None:
    rebuilt = build_from_scratch(tmp_path).read_text()
    committed = BUILT.read_text()
    if rebuilt != committed:
        diff = "".join(list(difflib.unified_diff(
            committed.splitlines(keepends=True), rebuilt.splitlines(keepends=True), "committed", "rebuilt", n=1,
        ))[:60])
        pytest.fail(f"{BUILT.relative_to(ROOT)} differs from what views/publish-preview builds: run `make view` and "
                    f"commit the result.\n{diff}", pytrace=False)


def test_every_package_is_pinned_to_one_exact_version() -> None:
    manifest = json.loads((SOURCE / "package.json").read_text())
    ranges = {name: spec for deps in ("dependencies", "devDependencies") for name, spec in manifest.get(deps, {}).items()
              if not re.fullmatch(r"\d+\.\d+\.\d+", spec)}
    assert not ranges, f"pin exact versions in views/publish-preview/package.json: {ranges}"
    lock = json.loads((SOURCE / "package-lock.json").read_text())
    root = lock["packages"][""]
    assert root.get("devDependencies") == manifest["devDependencies"], "package-lock.json is stale: regenerate it"
    unhashed = [path for path, entry in lock["packages"].items() if path and "integrity" not in entry and not entry.get("link")]
    assert not unhashed, f"lockfile entries without an integrity hash: {unhashed}"


def test_the_built_view_is_self_contained() -> None:
    """One file, no fetch of anything: no external script, style, image or font, and no network API in the script
    (the default CSP would block it, and the view must work from the tool result alone)."""
    html = BUILT.read_text()
    assert html.startswith("<!doctype html>\n")
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html, re.I), "the view loads something"
    assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket|EventSource|sendBeacon|importScripts)\s*\(|new\s+(WebSocket|EventSource)", html)
    assert not re.search(r"\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write", html), "caller text must stay text"
    assert len(html.encode()) < 100_000, "the view grew past 100 KB: did a dependency get bundled?"
