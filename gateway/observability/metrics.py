"""Process metrics in the Prometheus text exposition format (version 0.0.4), written by hand.

Why not `prometheus_client`: we need four families and one histogram, all updated from one event loop
thread, so plain dicts keyed by label tuples are enough. That keeps the per-request cost to a dict
update and a bisect (the access middleware runs on every request, including the benchmarked hot path),
and avoids the client library's locks, global registry and multiprocess machinery.

Label values are bounded by construction: routes are the application's route templates (never raw
paths), methods are folded to a fixed set, tools are catalogue names and endpoints are table names,
so an attacker cannot grow the label space by sending odd URLs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

# Seconds. Spans the loopback floor (~50 µs) to slow upstream calls (timeouts are 30 s by default).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class _Histogram:
    __slots__ = ("counts", "total", "count")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # last slot is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, value)] += 1
        self.total += value
        self.count += 1


class Metrics:
    """Counters and a latency histogram for one gateway process."""

    def __init__(self) -> None:
        self._requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._latency: defaultdict[str, _Histogram] = defaultdict(_Histogram)
        self._upstream: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._upstream_errors: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._tools: defaultdict[tuple[str, str], int] = defaultdict(int)

    def observe_request(self, route: str, status: int, seconds: float, method: str = "GET") -> None:
        """One HTTP request answered by the gateway; `route` is the route template, not the raw path."""
        method = method if method in _METHODS else "OTHER"
        self._requests[(route, method, str(status))] += 1
        self._latency[route].observe(seconds)

    def upstream_call(self, endpoint: str, status: int) -> None:
        """One call to StatusPal; `status` 0 means no answer arrived (timeout, refused, reset)."""
        key = (endpoint, str(status))
        self._upstream[key] += 1
        if status == 0 or status >= 400:
            self._upstream_errors[key] += 1

    def tool_call(self, name: str, outcome: str) -> None:
        """One `tools/call`; `outcome` is "ok" or why it failed ("tool_error", "upstream_error", "unauthorized", …)."""
        self._tools[(name, outcome)] += 1

    def render(self) -> str:
        """This process's metrics; `render_host` for a host of several worker processes."""
        return _render(PREFIX, [(None, self)])

    # --- several workers: each one's counts travel as a snapshot, and a host view sums them ----------------------

    def snapshot(self) -> dict[str, Any]:
        """Every count as plain JSON values, for a sibling worker to add into its host view."""
        return {
            "requests": [[*k, v] for k, v in self._requests.items()],
            "latency": {route: [h.counts, h.total, h.count] for route, h in self._latency.items()},
            "upstream": [[*k, v] for k, v in self._upstream.items()],
            "upstream_errors": [[*k, v] for k, v in self._upstream_errors.items()],
            "tools": [[*k, v] for k, v in self._tools.items()],
        }

    @classmethod
    def from_snapshots(cls, *snapshots: Mapping[str, Any]) -> Metrics:
        """The sum of `snapshots`: counters add, histogram buckets add bucket by bucket."""
        total = cls()
        for snap in snapshots:
            for field, into in (("requests", total._requests), ("upstream", total._upstream),
                                ("upstream_errors", total._upstream_errors), ("tools", total._tools)):
                for *labels, value in snap[field]:
                    into[tuple(labels)] += int(value)
            for route, (counts, seconds, count) in snap["latency"].items():
                hist = total._latency[route]
                hist.counts = [a + int(b) for a, b in zip(hist.counts, counts, strict=True)]
                hist.total += float(seconds)
                hist.count += int(count)
        return total


# The host's sums keep the one-process names, so dashboards read the same with one worker or many. Each worker's
# own series sit beside them under names of their own, not as a `worker` label on the same names: a `sum()` over
# a family holding both the total and its parts would count every request twice.
PREFIX = "statuspal_mcp_"
WORKER_PREFIX = "statuspal_mcp_worker_"


def render_host(workers: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The whole host: every family summed over `workers` ((name, snapshot) pairs), then each worker's own."""
    total = Metrics.from_snapshots(*(snap for _, snap in workers))
    lines = [
        "# HELP statuspal_mcp_workers Worker processes whose counts this answer includes.",
        "# TYPE statuspal_mcp_workers gauge",
        f"statuspal_mcp_workers {len(workers)}",
    ]
    per_worker = [(name, Metrics.from_snapshots(snap)) for name, snap in workers]
    return "\n".join(lines) + "\n" + _render(PREFIX, [(None, total)]) + _render(WORKER_PREFIX, per_worker)


def _render(prefix: str, sources: Sequence[tuple[str | None, Metrics]]) -> str:
    """Every family once (HELP and TYPE), with the series of each source; a named source's carry a `worker` label."""
    lines: list[str] = []
    _counter(lines, f"{prefix}http_requests_total", "HTTP requests answered, by route template, method and status.",
             ("route", "method", "status"), [(w, m._requests) for w, m in sources])
    name = f"{prefix}http_request_duration_seconds"
    lines.append(f"# HELP {name} Time to answer an HTTP request, by route template.")
    lines.append(f"# TYPE {name} histogram")
    for worker, metrics in sources:
        for route in sorted(metrics._latency):
            hist = metrics._latency[route]
            label = _worker_label(worker) + f'route="{_escape(route)}"'
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, hist.counts, strict=False):  # counts ends with the +Inf slot
                cumulative += count
                lines.append(f'{name}_bucket{{{label},le="{bound}"}} {cumulative}')
            lines.append(f'{name}_bucket{{{label},le="+Inf"}} {hist.count}')
            lines.append(f"{name}_sum{{{label}}} {hist.total!r}")
            lines.append(f"{name}_count{{{label}}} {hist.count}")
    _counter(lines, f"{prefix}upstream_calls_total", "Calls to the StatusPal API, by endpoint and status (0 = no answer).",
             ("endpoint", "status"), [(w, m._upstream) for w, m in sources])
    _counter(lines, f"{prefix}upstream_errors_total", "StatusPal calls that failed (status 0 or >= 400), by endpoint and status.",
             ("endpoint", "status"), [(w, m._upstream_errors) for w, m in sources])
    _counter(lines, f"{prefix}tool_calls_total", "MCP tool calls, by tool name and outcome.",
             ("tool", "outcome"), [(w, m._tools) for w, m in sources])
    return "\n".join(lines) + "\n"


_Labels = TypeVar("_Labels", bound=tuple[str, ...])  # one counter's label values, e.g. (endpoint, status)


def _counter(lines: list[str], name: str, help_text: str, labels: tuple[str, ...],
             sources: Sequence[tuple[str | None, Mapping[_Labels, int]]]) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} counter")
    for worker, values in sources:
        for key in sorted(values):
            rendered = ",".join(f'{label}="{_escape(value)}"' for label, value in zip(labels, key, strict=True))
            lines.append(f"{name}{{{_worker_label(worker)}{rendered}}} {values[key]}")


def _worker_label(worker: str | None) -> str:
    return "" if worker is None else f'worker="{_escape(worker)}",'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
