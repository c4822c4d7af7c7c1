"""Connections handed out in turn: `serve --workers N`'s supervisor accepts on the one listening socket and passes
each new connection to the next ready worker, as Node's `cluster` does.

Why not let every worker accept on the shared socket: a new connection wakes every worker, and the first to run
accepts everything queued (asyncio takes up to a backlog's worth per wake). A client that opens its keep-alive
connections together (a proxy's pool, a load generator) then lands all of them on one worker while the others
idle: measured, one worker used 2.6–3.0 CPU seconds of a 3-second load and the other none. Why not a socket of its
own per worker (SO_REUSEPORT): the kernel hashes each connection to a socket, so while a worker is dead or starting,
the connections hashed to it wait in its queue; here a worker that is gone is simply skipped.

The descriptor travels over a Unix socket pair per worker (SCM_RIGHTS, one connection per datagram of a
SOCK_SEQPACKET pair, so a message and its descriptor never split or merge). The supervisor closes its copy once the
worker has it, so the connection belongs to exactly one process. Accepting only while some worker can take the
connection leaves the others in the kernel's queue (bounded by the listen backlog) rather than in ours.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import socket
import struct
import termios
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from aiohttp.web_runner import BaseRunner

log = logging.getLogger("gateway.workers")

# Connections accepted per wake before the supervisor's loop runs anything else (its workers' exits, signals).
_ACCEPTS_PER_WAKE = 64
# How long accepting pauses after accept() fails (EMFILE and the like), as asyncio's own servers do.
_ACCEPT_RETRY_SECONDS = 1.0
# How soon a connection no channel had room for is offered again.
_HELD_RETRY_SECONDS = 0.005


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(the supervisor's end, the worker's end) of one worker's channel; the supervisor's end never blocks."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mine.setblocking(False)
    return mine, theirs


class Dealer:
    """The supervisor's side: accepts on `listener` and deals each connection to the workers' channels in turn,
    passing over a worker that has not read what it was given while another has read more (`_deal`).

    It accepts only while a worker can take what it accepts. A channel holds a few hundred connections (measured:
    278), so a burst of thousands can fill every worker's before they read them; the connection that finds no room
    is held here, accepting stops, and the rest of the burst waits in the kernel's queue (bounded by the listen
    backlog) until a channel has room again. Closing it instead would reset healthy clients."""

    def __init__(self, listener: socket.socket) -> None:
        self._listener = listener
        self._channels: dict[int, socket.socket] = {}
        self._turn = 0
        self._accepting = False
        self._warned = False
        self._paused: asyncio.TimerHandle | None = None  # accept() failed: try again later rather than spin
        self._held: socket.socket | None = None  # accepted, and no channel had room for it yet
        self._retry: asyncio.TimerHandle | None = None

    def add(self, index: int, channel: socket.socket) -> None:
        """Worker `index` is ready: deal it connections from now on."""
        self._channels[index] = channel
        if self._retry is not None:
            # The held connection is offered now, and held again with a timer of its own if no one takes it: the
            # pending one would stay scheduled but untracked, and each worker made ready during a hold (a restart
            # under overload) would add another timer offering it to every channel every 5 ms.
            self._retry.cancel()
        self._deal_held()
        self._update()

    def remove(self, index: int) -> None:
        """Worker `index` is gone (or going): deal it nothing more, and close our end of its channel."""
        channel = self._channels.pop(index, None)
        if channel is not None:
            channel.close()
        self._update()

    def close(self) -> None:
        """Stop accepting; connections still queued on the listening socket are the caller's to close."""
        for timer in (self._paused, self._retry):
            if timer is not None:
                timer.cancel()
        self._paused = self._retry = None
        if self._held is not None:
            self._held.close()
            self._held = None
        for index in list(self._channels):
            self.remove(index)
        self._update()

    def _update(self) -> None:
        """Watch the listener exactly while accepting can lead somewhere: a worker is ready, no connection is
        waiting for room, and accept() is not paused."""
        on = bool(self._channels) and self._held is None and self._paused is None and self._listener.fileno() >= 0
        if on == self._accepting:
            return
        loop = asyncio.get_running_loop()
        if on:
            loop.add_reader(self._listener.fileno(), self._accept)
        elif self._listener.fileno() >= 0:
            loop.remove_reader(self._listener.fileno())
        self._accepting = on

    def _accept(self) -> None:
        for _ in range(_ACCEPTS_PER_WAKE):
            if not self._accepting:  # every worker went away, or every channel filled, while dealing
                return
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: the connection stays queued; say so once per episode
                if not self._warned:
                    log.error("cannot accept a connection: %s", exc)
                    self._warned = True
                # The queued connection keeps the listener readable, so watching it now would call this again at
                # once: a core spent spinning (measured: 100% of one) until a descriptor frees. Pause instead.
                self._paused = asyncio.get_running_loop().call_later(_ACCEPT_RETRY_SECONDS, self._resume)
                self._update()
                return
            self._warned = False
            if self._deal(conn):
                conn.close()
            else:
                self._hold(conn)

    def _resume(self) -> None:
        self._paused = None
        self._update()

    def _hold(self, conn: socket.socket) -> None:
        self._held = conn
        self._update()
        if self._channels:  # with no worker at all, `add` offers it to the next one ready
            # Retried on a short timer rather than when a channel turns writable: a channel can be writable and
            # still refuse (ETOOMANYREFS, below), which would call a writability watch again at once, forever.
            self._retry = asyncio.get_running_loop().call_later(_HELD_RETRY_SECONDS, self._deal_held)

    def _deal_held(self) -> None:
        self._retry = None
        held, self._held = self._held, None
        if held is None:
            return
        if self._deal(held):
            held.close()
            self._update()
        else:
            self._hold(held)

    def _deal(self, conn: socket.socket) -> bool:
        """Pass `conn` to the worker whose turn it is, unless another has fewer connections still unread in its
        channel; False when none takes it. Workers read their channels at once, so in the usual case every channel
        is empty and the turn decides; a worker that is busy (a long pause, a stopped process) collects unread
        connections and is passed over while another has fewer, instead of taking every Nth new client to wait
        with it. A worker whose channel is full is passed over this once, as is one whose channel fails otherwise;
        one whose channel is closed (it died) is removed."""
        order = list(self._channels)
        turns = [order[(self._turn + step) % len(order)] for step in range(len(order))]
        if len(turns) > 1:
            turns.sort(key=lambda index: _unread(self._channels[index]))  # stable: ties keep the turn order
        for index in turns:
            try:
                socket.send_fds(self._channels[index], [b"c"], [conn.fileno()])
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionError:  # EPIPE and the like: the worker's end is closed, it died
                self.remove(index)
                continue
            except OSError as exc:
                # Anything else says nothing about the worker, which is alive: ETOOMANYREFS (more descriptors in
                # flight for this user than RLIMIT_NOFILE, e.g. while one worker is stuck with a full channel)
                # clears once the workers take theirs. Removing the worker would close its channel, and it would get
                # no connection again while it lives; with every worker removed this way the host stops accepting.
                log.debug("worker %d could not take a connection: %s", index, exc)
                continue
            if index in self._channels:
                self._turn = (order.index(index) + 1) % len(order)
            return True
        return False


def _unread(channel: socket.socket) -> int:
    """Bytes sent on `channel` that its worker has not read yet (SIOCOUTQ; each connection is a few hundred);
    0 where the system cannot say, which leaves the turn to decide."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(channel.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])
    except OSError:
        return 0


class HandedSite(web.BaseSite):
    """The worker's side: an aiohttp site whose connections arrive on `channel` instead of from accept().

    Stopping first serves what is already in the channel: those connections were dealt to this worker and no other
    will see them, so they join the drain like connections accepted a moment earlier."""

    def __init__(self, runner: BaseRunner, channel: socket.socket) -> None:
        super().__init__(runner)
        channel.setblocking(False)
        self._channel = channel
        self._connecting: set[asyncio.Task[object]] = set()

    @property
    def name(self) -> str:
        return "connections from the supervisor"

    async def start(self) -> None:
        await super().start()
        asyncio.get_running_loop().add_reader(self._channel.fileno(), self._receive)

    async def stop(self) -> None:
        if self._channel.fileno() >= 0:
            asyncio.get_running_loop().remove_reader(self._channel.fileno())
            self._receive()
            self._channel.close()
        if self._connecting:
            await asyncio.wait(self._connecting)
        await super().stop()

    def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # BaseSite refuses a runner that is not set up
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self._channel, 1, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:  # the supervisor's end closed: nothing more will come
                loop.remove_reader(self._channel.fileno())
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(server, conn))
                self._connecting.add(task)
                task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[object]) -> None:
        self._connecting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The client reset the connection before it was set up; nothing was read, nothing is lost.
            log.debug("a handed connection failed to start: %s", task.exception())
