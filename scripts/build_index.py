#!/usr/bin/env python3
"""Rebuild the docs search index: `scripts/build_index.py [--config PATH] [--corpus PATH] [--output PATH]`.

The same as `statuspal-mcp build-index`, runnable from a checkout without installing the package. The new
build is swapped in atomically; a running gateway picks it up within `reload_interval_seconds`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["build-index", *sys.argv[1:]]))
