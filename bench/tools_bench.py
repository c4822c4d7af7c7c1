"""What tools/list costs a client's context: bytes and estimated tokens per tool and per surface, against the
budget in tests/tool_budget.toml (the table tests/test_tool_budget.py prints and enforces).

    python -m bench.tools_bench

Exit status 1 when a tool or surface is over its budget, so it can gate a change by hand as well.
"""

from __future__ import annotations

import sys

from gateway.auth.scopes import READ, WRITE
from gateway.auth.surfaces import FULL, Surface
from gateway.tools.catalogue import build_catalogue
from gateway.tools.surfaces import SurfaceTools
from tests.tool_budget import Budget, over_budget, report, surface_size, tool_sizes

# The surfaces the budget names, as a read-write grant sees them (no schema names the page, so any page costs the same).
SURFACES = {"full": FULL, "readonly": Surface(readonly=True), "page": Surface(page="acme-status")}


def main() -> int:
    view = SurfaceTools.of(build_catalogue())
    tools = [t.definition() for t in view.full.tools]
    sizes = tool_sizes(tools)
    grant = frozenset({READ, WRITE})
    surfaces = {name: surface_size(t.definition() for t in view.visible(s, grant)) for name, s in SURFACES.items()}
    budget = Budget.load()
    print(report(budget, sizes, surfaces))
    problems = over_budget(budget, sizes, surfaces)
    for line in problems:
        print(f"over budget: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
