"""`serve --workers N`: N worker processes answering on one listening socket, and the supervisor that keeps them.

The command line binds the socket first (so a taken port is one line, and `--port 0` prints the port it got),
then the supervisor starts each worker as a fresh interpreter (`python -m gateway worker …`) with one end of a
channel (`gateway.handoff`): the supervisor accepts each connection and hands it to the next ready worker in turn.
Spawned, not forked: the supervisor already runs a log-writer thread and an event loop, and a forked child inherits
their locks in whatever state they were in.

The supervisor answers no request itself. It runs the embedded sandbox (one per host, like the real StatusPal),
starts a worker again when one exits (logged with its exit status; connections go to the others meanwhile), and on
SIGTERM or SIGINT stops accepting (the listening socket is closed first, so no connection waits in a queue nobody
reads), passes SIGTERM to every worker, waits for each to finish its requests in flight, and stops the sandbox last.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from gateway.handoff import Dealer, channel_pair

log = logging.getLogger("gateway.workers")

# What a worker prints on stdout once it accepts connections.
WORKER_READY = "worker ready"
# How long a worker may take to start (import, build its application, open the index and the store).
START_TIMEOUT_SECONDS = 120.0
# A worker that exits sooner than this after starting is started again only after this pause, so a worker that
# cannot start (the store went away) does not spin the host's cores.
RESTART_PAUSE_SECONDS = 1.0


class WorkerFailed(Exception):
    """A worker exited before it was ready; its own error is already on stderr."""


class Worker:
    def __init__(self, index: int, proc: asyncio.subprocess.Process, channel: socket.socket) -> None:
        self.index = index
        self.proc = proc
        self.channel = channel  # the supervisor's end; the dealer's once the worker is ready
        self.started = time.monotonic()
        self.ready = asyncio.get_running_loop().create_future()
        assert proc.stdout is not None
        self._reader = asyncio.ensure_future(self._read(proc.stdout))

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        # Draining the pipe to its end, so a worker never blocks on a full one.
        while line := await stdout.readline():
            if line.decode(errors="replace").strip() == WORKER_READY and not self.ready.done():
                self.ready.set_result(None)
        if not self.ready.done():
            self.ready.set_exception(WorkerFailed(f"worker {self.index} exited before it was ready"))


class Supervisor:
    def __init__(self, sock: socket.socket, count: int, worker_args: Sequence[str], shutdown_timeout: float) -> None:
        self._sock = sock
        self._dealer = Dealer(sock)
        self._count = count
        self._args = list(worker_args)
        self._grace = shutdown_timeout + 5.0  # a worker's own drain, then the time to stop its pools
        self._directory = Path(tempfile.mkdtemp(prefix="statuspal-mcp-"))  # 0700: the workers' private sockets
        self._workers: dict[int, Worker] = {}

    async def _spawn(self, index: int) -> Worker:
        mine, theirs = channel_pair()
        with theirs:  # the worker's copy is inherited; ours closes, so the worker's end alone holds it open
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", "worker", *self._args,
                "--channel", str(theirs.fileno()), "--index", str(index), "--count", str(self._count),
                "--directory", str(self._directory), "--parent", str(os.getpid()),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, pass_fds=(theirs.fileno(),),
            )
        worker = Worker(index, proc, mine)
        self._workers[index] = worker
        worker.ready.add_done_callback(lambda ready: self._deal_to(worker, ready))
        return worker

    def _deal_to(self, worker: Worker, ready: asyncio.Future[None]) -> None:
        if not ready.cancelled() and ready.exception() is None and self._workers.get(worker.index) is worker:
            self._dealer.add(worker.index, worker.channel)

    async def start(self) -> None:
        """Every worker, ready; WorkerFailed (after stopping the others) when one cannot start."""
        workers = [await self._spawn(i) for i in range(1, self._count + 1)]
        try:
            await asyncio.wait_for(asyncio.gather(*(w.ready for w in workers)), START_TIMEOUT_SECONDS)
        except (WorkerFailed, TimeoutError) as exc:
            await self.stop()
            raise WorkerFailed(str(exc) or f"the workers did not start within {START_TIMEOUT_SECONDS:g} s") from None

    async def run(self, stop: asyncio.Event) -> None:
        """Replace each worker that exits until `stop` is set."""
        stopped = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            exits = {asyncio.ensure_future(w.proc.wait()): w for w in self._workers.values()}
            done, _ = await asyncio.wait([stopped, *exits], return_when=asyncio.FIRST_COMPLETED)
            for waiting in exits:
                waiting.cancel()
            if stop.is_set():
                break
            for finished in done:
                if finished in exits:
                    await self._replace(exits[finished], stop)

    async def _replace(self, dead: Worker, stop: asyncio.Event) -> None:
        self._dealer.remove(dead.index)
        dead.channel.close()
        code = dead.proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        if time.monotonic() - dead.started < RESTART_PAUSE_SECONDS:
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_PAUSE_SECONDS)
            if stop.is_set():
                return
        worker = await self._spawn(dead.index)
        log.warning("worker %d (pid %d) ended with %s; started a replacement, pid %d", dead.index, dead.proc.pid, how, worker.proc.pid,
                    extra={"worker": dead.index, "pid": dead.proc.pid, "replacement_pid": worker.proc.pid})

    async def stop(self) -> None:
        """Stop accepting, then SIGTERM to every worker, and wait for each to drain (killed after the grace time)."""
        self._dealer.close()
        self._sock.close()
        for worker in self._workers.values():
            if worker.proc.returncode is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self._workers.values():
            try:
                await asyncio.wait_for(worker.proc.wait(), self._grace)
            except TimeoutError:
                log.error("worker %d (pid %d) did not stop within %g s; killed it", worker.index, worker.proc.pid, self._grace)
                worker.proc.kill()
                await worker.proc.wait()
            worker.channel.close()
        for path in self._directory.iterdir():
            path.unlink(missing_ok=True)
        with suppress(OSError):
            self._directory.rmdir()


def die_with_parent(parent: int) -> None:
    """A worker ends when its supervisor does, even if the supervisor was killed outright (Linux: the kernel sends
    SIGTERM, which drains as usual). Elsewhere the worker outlives a killed supervisor."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the supervisor was already gone before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def encode_overrides(overrides: dict[str, dict[str, Any]]) -> str:
    """The settings the supervisor derived (the bound port, the sandbox's address), for the workers' command line:
    values only, never a secret (those reach the workers through the environment they inherit)."""
    return json.dumps({section: {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
                       for section, values in overrides.items()})
