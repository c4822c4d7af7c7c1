"""gateway.handoff in one process: a real listening socket, the supervisor's Dealer, and two aiohttp runners that
take their connections from channels, as two workers would. tests/test_workers.py runs the same parts as separate
processes; here each behaviour can be arranged exactly (a worker gone, no worker yet)."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from gateway.handoff import Dealer, HandedSite, channel_pair


async def named(name: str) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=name)

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    return runner


class Host:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)  # as `serve` binds
        self.listener.setblocking(False)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.dealer = Dealer(self.listener)
        self.runners: list[web.AppRunner] = []

    async def worker(self, index: int) -> socket.socket:
        """A runner answering its own index, dealt connections from now on; the worker's end of its channel."""
        mine, theirs = channel_pair()
        runner = await named(str(index))
        self.runners.append(runner)
        await HandedSite(runner, theirs).start()
        self.dealer.add(index, mine)
        return theirs

    async def busy_worker(self, index: int) -> tuple[HandedSite, socket.socket]:
        """A worker dealt connections that it does not read yet (busy, or stuck); its site and its channel end.
        `asyncio.get_running_loop().add_reader(channel.fileno(), site._receive)` frees it."""
        mine, theirs = channel_pair()
        runner = await named(str(index))
        self.runners.append(runner)
        site = HandedSite(runner, theirs)
        await site.start()
        asyncio.get_running_loop().remove_reader(theirs.fileno())
        self.dealer.add(index, mine)
        return site, theirs

    async def fresh(self) -> str:
        """Which worker answered one request on a new connection."""
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            async with http.get(self.url) as r:
                return await r.text()


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    made = Host()
    yield made
    made.dealer.close()
    made.listener.close()
    for runner in made.runners:
        await runner.cleanup()


async def test_connections_are_dealt_in_turn(host: Host) -> None:
    await host.worker(1)
    await host.worker(2)
    assert [await host.fresh() for _ in range(6)] == ["1", "2", "1", "2", "1", "2"]


async def test_connections_opened_together_are_spread_over_the_workers(host: Host) -> None:
    await host.worker(1)
    await host.worker(2)
    await host.worker(3)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=9)) as http:
        async def one() -> str:
            async with http.get(host.url) as r:
                return await r.text()

        answered = await asyncio.gather(*(one() for _ in range(9)))
    assert sorted(answered) == ["1", "1", "1", "2", "2", "2", "3", "3", "3"]


async def test_a_busy_worker_is_passed_over_while_another_has_fewer_unread(host: Host) -> None:
    await host.worker(1)
    site, theirs = await host.busy_worker(2)  # stopped, or in a long pause: it reads nothing for now
    calls = []
    for _ in range(10):
        calls.append(asyncio.ensure_future(host.fresh()))
        await asyncio.sleep(0.02)  # each connection dealt before the next opens
    done, waiting = await asyncio.wait(calls, timeout=2)
    # Its turn gave the busy worker one connection; after that it had more unread than the free one, every time.
    assert sorted(call.result() for call in done) == ["1"] * 9 and len(waiting) == 1
    asyncio.get_running_loop().add_reader(theirs.fileno(), site._receive)
    assert await asyncio.wait_for(waiting.pop(), 5) == "2"


async def test_a_worker_that_is_gone_is_skipped_and_no_connection_is_lost(host: Host) -> None:
    await host.worker(1)
    gone = await host.worker(2)
    asyncio.get_running_loop().remove_reader(gone.fileno())
    gone.close()  # the worker died: its end of the channel closed with it
    assert [await host.fresh() for _ in range(4)] == ["1", "1", "1", "1"]


async def test_a_worker_whose_channel_fails_once_is_not_dropped_for_good(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    # ETOOMANYREFS: too many descriptors in flight for the user (past RLIMIT_NOFILE, without CAP_SYS_RESOURCE), as
    # when a stuck worker's channel holds a few hundred. It clears once the workers take them; the worker is alive.
    await host.worker(1)
    await host.worker(2)
    real = socket.send_fds
    failures = [OSError(errno.ETOOMANYREFS, "Too many references")]

    def send_fds(*args: object, **kwargs: object) -> int:
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "send_fds", send_fds)
    assert [await host.fresh() for _ in range(4)] == ["2", "1", "2", "1"]


async def test_accept_failing_for_want_of_descriptors_pauses_rather_than_spins(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    await host.worker(1)
    real = socket.socket.accept
    calls = 0
    failing = True

    def accept(self: socket.socket) -> tuple[socket.socket, object]:
        nonlocal calls
        if self is host.listener and failing:
            calls += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return real(self)

    monkeypatch.setattr(socket.socket, "accept", accept)
    waiting = asyncio.ensure_future(host.fresh())
    await asyncio.sleep(0.3)
    assert calls == 1  # the connection stays queued, so a listener still watched is ready again at once: a busy loop
    failing = False
    assert await asyncio.wait_for(waiting, 5) == "1"


async def test_a_burst_larger_than_a_channel_waits_for_room_rather_than_being_reset(host: Host) -> None:
    # A channel holds a few hundred connections; a burst of more, while the worker is busy, used to be reset.
    site, theirs = await host.busy_worker(1)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one() -> str:
            async with http.get(host.url) as r:
                return await r.text()

        calls = [asyncio.ensure_future(one()) for _ in range(600)]
        await asyncio.sleep(0.5)  # the channel fills, one connection is held, the rest wait in the listen queue
        assert not any(call.done() for call in calls)
        loop.add_reader(theirs.fileno(), site._receive)  # the worker is free again
        answers = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 30)
    assert answers == ["1"] * 600


async def test_connections_wait_in_the_queue_until_a_worker_is_ready(host: Host) -> None:
    waiting = asyncio.ensure_future(host.fresh())
    await asyncio.sleep(0.2)
    assert not waiting.done()  # accepted by no one: queued by the kernel, not dropped
    await host.worker(1)
    assert await asyncio.wait_for(waiting, 5) == "1"


async def test_a_stopping_worker_serves_the_connections_already_dealt_to_it(host: Host) -> None:
    _, theirs = await host.busy_worker(1)  # the connection will sit in its channel
    runner = host.runners[-1]
    answered = asyncio.ensure_future(host.fresh())
    for _ in range(500):
        await asyncio.sleep(0.01)
        if _pending(theirs):
            break
    assert _pending(theirs)
    host.dealer.remove(1)
    stopping = asyncio.ensure_future(runner.cleanup())  # SIGTERM: stop() takes what was dealt before closing
    assert await asyncio.wait_for(answered, 5) == "1"
    await stopping
    host.runners.remove(runner)


def _pending(channel: socket.socket) -> bool:
    try:
        return bool(channel.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False


async def test_a_held_connection_is_offered_on_one_timer_however_many_workers_start_meanwhile(
    host: Host, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Overload while a worker is replaced again and again: every channel is full, so a connection is held and
    # offered again every 5 ms; each worker made ready meanwhile is offered it at once. That must not leave the
    # timer pending as well, or every restart adds a retry of its own, each sending to every channel every 5 ms.
    full: list[socket.socket] = []

    def busy_channel() -> socket.socket:
        mine, theirs = channel_pair()
        theirs.setblocking(False)
        full.extend((mine, theirs))
        while True:
            try:
                mine.send(b"x")
            except BlockingIOError:
                return mine

    real = socket.send_fds
    sends = 0

    def send_fds(*args: object, **kwargs: object) -> int:
        nonlocal sends
        sends += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    host.dealer.add(1, busy_channel())
    client = socket.create_connection(host.listener.getsockname())
    full.append(client)
    for _ in range(200):
        await asyncio.sleep(0.005)
        if host.dealer._held is not None:
            break
    assert host.dealer._held is not None
    for _ in range(10):  # worker 2 restarts ten times, each time as busy as the first
        host.dealer.remove(2)
        host.dealer.add(2, busy_channel())
    monkeypatch.setattr(socket, "send_fds", send_fds)
    await asyncio.sleep(0.2)
    # One timer: at most one round of two sends per 5 ms (fewer when the loop is late), not one round per restart.
    assert sends <= 2 * (0.2 / 0.005 + 2), sends
    for sock in full:
        sock.close()
