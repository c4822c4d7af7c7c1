"""`[search]` in config.toml: where the docs corpus and its index live, and the base URL of the links."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SearchSettings:
    corpus_dir: str = "docs_corpus"
    index_dir: str = ".index"
    docs_base_url: str = "https://docs.statuspal-mcp.dev"
    reload_interval_seconds: float = 2.0
