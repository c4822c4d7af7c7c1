"""This process's place among the host's workers (`serve --workers N`): the name each answer carries, and a
`/metrics` that answers for the whole host.

How the workers share their counts: each keeps its own (`Metrics`: plain dicts on its event loop, free to update
on every request) and serves a snapshot of them on a private unix socket, in a directory the supervisor made for
this host that only its user can enter. The worker a scrape reaches asks every sibling for its snapshot at that
moment and sums them (`render_host`). So the answer is exact as of the scrape and costs nothing between scrapes.
The alternatives cost more: counting through Redis puts a round trip on every request, and prometheus_client's
multiprocess mode keeps a memory-mapped file per process and family that outlives a dead worker. A sibling that
does not answer (it died and is being replaced) is left out of that one answer, and `statuspal_mcp_workers` says
how many were counted; a replaced worker's series start again from zero, as any restarted process's do.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from gateway.observability.metrics import Metrics, render_host

# Names the process that answered: its place among the host's workers and its process id, so an operator can
# match an answer to a worker's log lines, and a load balancer's traces to a process.
WORKER_HEADER = "X-Gateway-Worker"
# A sibling slower than this to hand over its counts is left out of one scrape rather than holding it up.
_SIBLING_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class WorkerPlace:
    """Which of the host's `count` workers this process is (1-based); `directory` holds the workers' private
    sockets when there are several."""

    index: int = 1
    count: int = 1
    directory: Path | None = None

    def socket_path(self, index: int) -> Path:
        assert self.directory is not None
        return self.directory / f"worker-{index}.sock"


# The one process of a host that runs a single worker (`serve`, and every test gateway).
ALONE = WorkerPlace()


class HostMetrics:
    """/metrics for this process alone (one worker) or for the whole host (several)."""

    def __init__(self, place: WorkerPlace, metrics: Metrics) -> None:
        self.place = place
        self.metrics = metrics
        self.header = f"{place.index}; pid={os.getpid()}"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """With several workers, serve this worker's snapshot to its siblings."""
        if self.place.count == 1:
            return
        path = self.place.socket_path(self.place.index)
        path.unlink(missing_ok=True)  # left by the worker this one replaces
        app = web.Application()
        app.router.add_get("/snapshot", self._snapshot)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(path)).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def render(self) -> str:
        if self.place.count == 1:
            return self.metrics.render()
        own = (str(self.place.index), self.metrics.snapshot())
        others = [i for i in range(1, self.place.count + 1) if i != self.place.index]
        found = await asyncio.gather(*(self._sibling(i) for i in others))
        workers = sorted([own, *(pair for pair in found if pair is not None)], key=lambda pair: int(pair[0]))
        return render_host(workers)

    async def _snapshot(self, request: web.Request) -> web.Response:
        return web.json_response(self.metrics.snapshot())

    async def _sibling(self, index: int) -> tuple[str, dict] | None:
        connector = aiohttp.UnixConnector(path=str(self.place.socket_path(index)))
        timeout = aiohttp.ClientTimeout(total=_SIBLING_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                async with session.get("http://worker/snapshot") as answer:
                    answer.raise_for_status()
                    return str(index), await answer.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None


def name_answers(app: web.Application, host: HostMetrics) -> None:
    """Every answer names its worker, errors and event streams included (the signal runs as headers are sent)."""

    async def name(request: web.BaseRequest, response: web.StreamResponse) -> None:
        response.headers[WORKER_HEADER] = host.header

    app.on_response_prepare.append(name)
