"""What the tool catalogue costs a client's context, and the budget it must stay within.

The budget is the price of texts a model needs, set with room to grow: every surface has at least 1 KB of
headroom when it is set, and the full surface's budget never passes FULL_SURFACE_CAP.

Every connected assistant reads the whole `tools/list` answer into its context in every conversation, so its
size is a cost users pay all the time, not once. The budget (tool_budget.toml beside this module) holds a
limit per tool and per surface; tests/test_tool_budget.py fails above it and `python -m bench.tools_bench`
prints the same table. Sizes are of each definition as `tools/list` sends it (compact JSON, UTF-8); tokens
are estimated at 3.7 bytes each, about what current tokenizers make of JSON-heavy English.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BUDGET_FILE = Path(__file__).with_name("tool_budget.toml")
BYTES_PER_TOKEN = 3.7
# What a client without the MCP Apps extension reads for the full surface, in every conversation.
FULL_SURFACE_CAP = 42_000


def tokens(size: int) -> int:
    return round(size / BYTES_PER_TOKEN)


@dataclass(frozen=True)
class Budget:
    tools: Mapping[str, int]
    surfaces: Mapping[str, int]

    @classmethod
    def load(cls, path: Path = BUDGET_FILE) -> Budget:
        data = tomllib.loads(path.read_text())
        return cls(tools=dict(data["tools"]), surfaces=dict(data["surfaces"]))


def tool_sizes(definitions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Bytes of each tool definition, by name, in `tools/list` order."""
    return {d["name"]: len(orjson.dumps(d)) for d in definitions}


def surface_size(definitions: Iterable[Mapping[str, Any]]) -> int:
    """Bytes of the `tools` array a surface's `tools/list` carries."""
    return len(orjson.dumps(list(definitions)))


def over_budget(budget: Budget, sizes: Mapping[str, int], surfaces: Mapping[str, int]) -> list[str]:
    """Every tool or surface above its budget, or with none, as one line each; empty when all fit."""
    problems = [f"tool {n}: {b} bytes, budget {budget.tools[n]}" for n, b in sizes.items() if n in budget.tools and b > budget.tools[n]]
    problems += [f"tool {n}: no budget in {BUDGET_FILE.name}" for n in sizes if n not in budget.tools]
    problems += [
        f"surface {n}: {b} bytes, budget {budget.surfaces[n]}" if n in budget.surfaces else f"surface {n}: no budget"
        for n, b in surfaces.items()
        if n not in budget.surfaces or b > budget.surfaces[n]
    ]
    return problems


def report(budget: Budget, sizes: Mapping[str, int], surfaces: Mapping[str, int]) -> str:
    """The table: bytes, estimated tokens and budget per tool, then per surface."""
    lines = [f"{'tool':<24} {'bytes':>6} {'tokens':>6} {'budget':>6}"]
    lines += [f"{n:<24} {b:>6} {tokens(b):>6} {budget.tools.get(n, '-'):>6}" for n, b in sizes.items()]
    lines.append(f"{'surface':<24} {'bytes':>6} {'tokens':>6} {'budget':>6} {'headroom':>8}")
    lines += [
        f"{n:<24} {b:>6} {tokens(b):>6} {budget.surfaces.get(n, '-'):>6} {budget.surfaces[n] - b if n in budget.surfaces else '-':>8}"
        for n, b in surfaces.items()
    ]
    return "\n".join(lines)
