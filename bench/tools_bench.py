"""What tools/list costs a client's context: bytes and estimated tokens per tool and per surface, against the
budget in gateway/tools/tool_budget.toml (the table tests/test_tool_budget.py prints and enforces).

    python -m bench.tools_bench

Exit status 1 when a tool or surface is over its budget, so it can gate a change by hand as well.
"""

from __future__ import annotations

import sys

from gateway.scopes import READ
from gateway.tools.budget import Budget, over_budget, report, surface_size, tool_sizes
from gateway.tools.catalogue import build_catalogue


def main() -> int:
    catalogue = build_catalogue()
    tools = [t.definition() for t in catalogue.tools]
    read_only = [t.definition() for t in catalogue.visible(frozenset({READ}))]
    sizes = tool_sizes(tools)
    surfaces = {"full": surface_size(tools), "readonly": surface_size(read_only)}
    budget = Budget.load()
    print(report(budget, sizes, surfaces))
    problems = over_budget(budget, sizes, surfaces)
    for line in problems:
        print(f"over budget: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
