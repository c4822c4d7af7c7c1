"""`statuspal-mcp` (and `python -m gateway`): serve, sandbox, keygen, check-api, build-index.

Start-up problems an operator can fix (a bad config value, a taken port, a missing file) end the
process with exit code 2 and one line on stderr, never a traceback: the traceback says nothing the
line does not, and it is the first thing a new user sees. Sockets are bound before anything else
starts, so `--port 0` works (the printed URL shows the port the kernel chose) and a taken port is
reported before the gateway spends time loading its index.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import json
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from gateway import check_api
from gateway.allocator import keep_freed_memory
from gateway.config import ENV_PREFIX, ConfigError, Settings, load_keyring, load_settings, parse_workers
from gateway.handoff import HandedSite
from gateway.observability.logs import configure_logging, flush_logs
from gateway.observability.redaction import redact_text
from gateway.store.base import StoreUnavailable
from gateway.web.connections import GatewayRunner
from gateway.web.settings import ServerSettings
from sandbox.settings import SandboxConfigError
from search import build as index_build

PROG = "statuspal-mcp"
EXIT_STARTUP = 2
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::", ""})

log = logging.getLogger("gateway.cli")


class StartupError(Exception):
    """A problem the operator can fix, reported as one line with exit code 2."""


# --- sockets and addresses -----------------------------------------------------------------------


def bind(host: str, port: int, hint: str) -> socket.socket:
    """A listening socket, or a StartupError that says what to change (`hint`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use; choose another with {hint}") from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"no permission to listen on port {port} on {host}; choose a port above 1023 with {hint}") from None
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock


def origin(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _dedupe(*groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def listen_overrides(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """Server settings for the address actually bound.

    A loopback `public_url` describes this very process, so when `--host`/`--port` (or port 0) move the
    listener, the public URL, the resource URL and the Host/Origin allow-lists move with it; otherwise
    the OAuth metadata would advertise a port nobody listens on. A non-loopback public URL sits behind
    a proxy and is left alone.

    Allow-list entries that name a loopback host at the old port move to the new one rather than stay
    beside it: whatever else listens on the old port (another local app, a dev server) must not be
    able to call this gateway from a browser.
    """
    server = settings.server
    values: dict[str, Any] = {"host": host, "port": port}
    public = urlsplit(server.public_url)
    if public.hostname not in LOOPBACK:
        # Behind a proxy only the loopback defaults, which name the shipped default port, can be stale.
        if port != ServerSettings.port:
            values["allowed_hosts"] = _follow(server.allowed_hosts, ServerSettings.port, port)
            values["allowed_origins"] = _follow(server.allowed_origins, ServerSettings.port, port)
        return values
    # The public host still reaches the listener when it binds every address, that very name, or the
    # 127.0.0.1/localhost pair; `--host ::1` listens on IPv6 only, so 127.0.0.1 would lead nowhere.
    reachable = host in WILDCARD or host == public.hostname or {host, public.hostname} <= {"127.0.0.1", "localhost"}
    public_host = public.hostname if reachable else host
    if port != public.port or public_host != public.hostname:
        values["public_url"] = origin(public_host, port)
        netlocs = [f"127.0.0.1:{port}", f"localhost:{port}", urlsplit(values["public_url"]).netloc]
        values["allowed_hosts"] = _dedupe(_follow(server.allowed_hosts, public.port, port), netlocs)
        values["allowed_origins"] = _dedupe(_follow(server.allowed_origins, public.port, port), [f"http://{n}" for n in netlocs])
    return values


def _follow(entries: Sequence[str], old_port: int | None, port: int) -> tuple[str, ...]:
    """`entries` (Host values or origins) with each one that names a loopback host at `old_port` moved to `port`."""
    moved = []
    for entry in entries:
        parts = urlsplit(entry if "//" in entry else f"//{entry}")
        try:
            entry_port = parts.port
        except ValueError:  # not a port at all: the entry can never match a request, leave it as written
            entry_port = None
        if parts.hostname in LOOPBACK and entry_port == old_port:
            netloc = f"{parts.netloc.rsplit(':', 1)[0]}:{port}"
            entry = f"{parts.scheme}://{netloc}" if parts.scheme else netloc
        moved.append(entry)
    return _dedupe(moved)


def upstream_override(settings: Settings, sandbox_port: int) -> dict[str, Any]:
    """With the sandbox embedded, the upstream is that sandbox at the port it actually got.

    A non-loopback `statuspal.base_url` next to `embedded = true` is a contradiction (which one did the
    operator mean?), so it is refused rather than silently ignored.
    """
    base = urlsplit(settings.statuspal.base_url)
    if base.hostname not in LOOPBACK:
        raise ConfigError(
            f"sandbox.embedded is true but statuspal.base_url points at {base.hostname}; "
            f"set {ENV_PREFIX}SANDBOX_EMBEDDED=false to use a real StatusPal"
        )
    return {"base_url": f"{origin(settings.sandbox.host, sandbox_port)}/api/v1"}


# --- the banner ----------------------------------------------------------------------------------


def banner(settings: Settings, sandbox_url: str | None, workers: int = 1) -> str:
    """What a new user needs to connect an assistant, ready to copy."""
    url = settings.server.resource_url
    key = settings.sandbox.demo_key if sandbox_url else "<your StatusPal API key>"
    cursor = {"mcpServers": {"StatusPal Next": {"url": url, "headers": {"Authorization": f"Bearer {key}"}}}}
    lines = [f"StatusPal MCP gateway listening; MCP URL: {url}"]
    if workers > 1:
        lines.append(f"{workers} worker processes take connections in turn; each answer names its worker in X-Gateway-Worker")
    if sandbox_url:
        lines.append(f"Sandbox StatusPal API at {sandbox_url}/api/v1; demo key: {key}")
    else:
        lines.append(f"Upstream StatusPal API: {settings.statuspal.base_url}")
    lines += [
        "",
        "Connect Claude Code:",
        f'  claude mcp add --transport http "StatusPal Next" {url} --header "Authorization: Bearer {key}"',
        "",
        "Connect Cursor (add to ~/.cursor/mcp.json):",
        *("  " + line for line in json.dumps(cursor, indent=2).splitlines()),
        "",
        f"Health: {settings.server.public_url}/healthz  Ready: {settings.server.public_url}/readyz  "
        f"Metrics: {settings.server.public_url}/metrics",
        "Stop with Ctrl-C (in-flight calls are finished first).",
    ]
    return "\n".join(lines)


# --- running ---------------------------------------------------------------------------------------


@dataclass
class Listener:
    app: web.Application
    sock: socket.socket
    server: ServerSettings
    handed: bool = False  # `sock` is a worker's channel of connections from its supervisor (gateway.handoff)


async def run_until_signal(listeners: Sequence[Listener], ready_message: str) -> None:
    """Start every listener in order, print the message, and stop in reverse order on SIGTERM/SIGINT.

    Stopping closes the listening socket first, then waits up to `shutdown_timeout` for requests in
    flight, and only then runs the apps' cleanup (which closes the upstream pool). The sandbox is
    started first and stopped last, so calls the gateway is still finishing can still reach it.
    """
    stop = stop_on_signals()
    runners: list[GatewayRunner] = []
    try:
        for listener in listeners:
            runners.append(await start(listener))
        print(ready_message, flush=True)
        await stop.wait()
        log.info("shutting down: finishing requests in flight")
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
    log.info("stopped")


def stop_on_signals() -> asyncio.Event:
    """An event SIGTERM or SIGINT sets: the start of a graceful stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def start(listener: Listener) -> GatewayRunner:
    """`listener`'s app served on its socket (or its channel of handed connections), with `[server]`'s bounds."""
    runner = GatewayRunner(
        listener.app, access_log=None, shutdown_timeout=listener.server.shutdown_timeout_seconds,
        keepalive_timeout=listener.server.keepalive_timeout_seconds, request_timeout=listener.server.request_timeout_seconds,
    )
    await runner.setup()
    site = HandedSite(runner, listener.sock) if listener.handed else web.SockSite(runner, listener.sock)
    await site.start()
    return runner


@contextmanager
def long_lived_objects() -> Iterator[None]:
    """Around building what lives as long as the process (the imports, create_app): the collector's passes over
    it are wasted, so it is off while they run, and their ~100k objects are frozen after, out of every full
    collection while serving and of the one at exit (together about 0.7 s of CPU per start)."""
    keep_freed_memory()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _sandbox_app(settings: Settings) -> web.Application:
    from gateway.statuspal.endpoints import EndpointTable
    from sandbox.app import create_sandbox_app

    return create_sandbox_app(settings.sandbox, EndpointTable.from_settings(settings.statuspal))


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    workers = settings.server.workers if args.workers is None else parse_workers(args.workers, "--workers")
    if workers > 1 and not settings.secrets.redis_url:
        # In-process memory would give each worker its own view: a code redeemable once per worker, budgets times N.
        raise StartupError(
            f"{workers} workers need a shared store: set {ENV_PREFIX}REDIS_URL (single-use codes, budgets and "
            "confirmations must be shared by every process), or run one worker"
        )
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    sandbox_sock = None
    overrides: dict[str, dict[str, Any]] = {}
    if settings.sandbox.embedded:
        sandbox_sock = bind(settings.sandbox.host, settings.sandbox.port, f"{ENV_PREFIX}SANDBOX_PORT or [sandbox] port")
        overrides["statuspal"] = upstream_override(settings, sandbox_sock.getsockname()[1])
    sock = bind(host, port, "--port")
    overrides["server"] = listen_overrides(settings, host, sock.getsockname()[1])
    settings = load_settings(args.config, overrides=overrides)
    configure_logging(settings)
    if workers > 1:
        return _serve_workers(args, settings, overrides, sock, sandbox_sock, workers)
    with long_lived_objects():
        from gateway.app import create_app  # the whole gateway: imported once the cheap checks have passed

        listeners = []
        sandbox_url = None
        if sandbox_sock is not None:
            sandbox_url = origin(settings.sandbox.host, sandbox_sock.getsockname()[1])
            listeners.append(Listener(_sandbox_app(settings), sandbox_sock, settings.server))
        listeners.append(Listener(create_app(settings), sock, settings.server))
    asyncio.run(run_until_signal(listeners, banner(settings, sandbox_url)))
    return 0


def _serve_workers(
    args: argparse.Namespace, settings: Settings, overrides: dict[str, dict[str, Any]], sock: socket.socket,
    sandbox_sock: socket.socket | None, workers: int,
) -> int:
    """The supervisor of `workers` processes on `sock` (`gateway.workers`), with the sandbox, when embedded, here."""
    from gateway.store.redis import RedisStore
    from gateway.workers import Supervisor, WorkerFailed, encode_overrides

    # Made here, before any worker reads it, so all of them seal with the one development key (production keys
    # come from the environment the workers inherit).
    load_keyring(settings)
    worker_args = [*(["--config", args.config] if args.config else []), "--overrides", encode_overrides(overrides)]
    sandbox_url = origin(settings.sandbox.host, sandbox_sock.getsockname()[1]) if sandbox_sock is not None else None
    message = banner(settings, sandbox_url, workers)

    async def supervise() -> None:
        # Redis answers before any worker starts, so an unreachable one is one line here, not one from each worker.
        store = RedisStore(settings.secrets.redis_url)
        await store.start()
        await store.close()
        stop = stop_on_signals()
        sandbox = None
        if sandbox_sock is not None:  # once per host, started first and stopped last, as with one process
            sandbox = await start(Listener(_sandbox_app(settings), sandbox_sock, settings.server))
        supervisor = Supervisor(sock, workers, worker_args, settings.server.shutdown_timeout_seconds)
        try:
            await supervisor.start()
            print(message, flush=True)
            await supervisor.run(stop)
            log.info("shutting down: every worker finishes its requests in flight")
            await supervisor.stop()
        finally:
            if sandbox is not None:
                await sandbox.cleanup()
        log.info("stopped")

    try:
        asyncio.run(supervise())
    except WorkerFailed as exc:
        raise StartupError(f"{exc}; its error is above") from None
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """One of `serve --workers N`'s processes, started by the supervisor with the channel its connections arrive on."""
    from gateway.web.host import WorkerPlace
    from gateway.workers import WORKER_READY, die_with_parent

    die_with_parent(args.parent)
    settings = load_settings(args.config, overrides=json.loads(args.overrides))
    configure_logging(settings)
    with long_lived_objects():
        from gateway.app import create_app

        channel = socket.socket(fileno=args.channel)
        app = create_app(settings, place=WorkerPlace(args.index, args.count, Path(args.directory)))
    asyncio.run(run_until_signal([Listener(app, channel, settings.server, handed=True)], WORKER_READY))
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    host = args.host or settings.sandbox.host
    port = settings.sandbox.port if args.port is None else args.port
    sock = bind(host, port, "--port")
    settings = load_settings(args.config, overrides={"sandbox": {"host": host, "port": sock.getsockname()[1]}})
    configure_logging(settings)
    url = origin(host, sock.getsockname()[1])
    message = f"Sandbox StatusPal API at {url}/api/v1; demo key: {settings.sandbox.demo_key}\nStop with Ctrl-C."
    asyncio.run(run_until_signal([Listener(_sandbox_app(settings), sock, settings.server)], message))
    return 0


def cmd_key_id(args: argparse.Namespace) -> int:
    """A StatusPal key's id, as audit events and logs name it. The key is read from standard input, never from
    an argument (argv is visible to every user of the host and lands in shell history)."""
    from gateway.auth.identity import API_KEY_SHAPE, key_id

    key = sys.stdin.readline().strip()
    if not API_KEY_SHAPE.match(key):
        print(f"{PROG}: error: standard input holds no StatusPal API key (sk_…); pipe the key in, e.g. "
              f"`printenv STATUSPAL_KEY | {PROG} key-id`", file=sys.stderr)
        return EXIT_STARTUP
    print(key_id(key))
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """The key goes alone to stdout (so `$(statuspal-mcp keygen)` captures just it); the advice to stderr."""
    from gateway.auth.sealing import Keyring

    key = Keyring.generate_secret()
    print(key)
    print(
        f"Set it as {ENV_PREFIX}SEALING_KEYS={key} (keep it out of config.toml and git).\n"
        f"To rotate: put the new key first and keep the old one after a comma until issued tokens expire:\n"
        f"  {ENV_PREFIX}SEALING_KEYS=<new>,<old>",
        file=sys.stderr,
    )
    return 0


def cmd_build_index(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    return index_build.run(args, settings.search, settings.root)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Hosted MCP server for StatusPal Next.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="PATH", help="config file (default: the repository's config.toml)")

    serve = commands.add_parser("serve", help="run the gateway (with the sandbox when [sandbox] embedded = true)")
    config_option(serve)
    serve.add_argument("--host", help="listen address (default: [server] host)")
    serve.add_argument("--port", type=int, help="listen port, 0 for any free port (default: [server] port)")
    serve.add_argument("--workers", metavar="N", help="worker processes, dealt connections in turn, or auto for one per core; "
                       f"more than 1 needs {ENV_PREFIX}REDIS_URL (default: [server] workers)")
    serve.set_defaults(func=cmd_serve)

    # Started by `serve --workers N` only, never by hand: hidden from the help.
    worker = commands.add_parser("worker")
    config_option(worker)
    for name, kind in (("--channel", int), ("--index", int), ("--count", int), ("--directory", str), ("--overrides", str), ("--parent", int)):
        worker.add_argument(name, type=kind, required=True)
    worker.set_defaults(func=cmd_worker)

    sandbox = commands.add_parser("sandbox", help="run the local StatusPal sandbox alone")
    config_option(sandbox)
    sandbox.add_argument("--host", help="listen address (default: [sandbox] host)")
    sandbox.add_argument("--port", type=int, help="listen port, 0 for any free port (default: [sandbox] port)")
    sandbox.set_defaults(func=cmd_sandbox)

    keygen = commands.add_parser("keygen", help=f"print a new sealing key for {ENV_PREFIX}SEALING_KEYS")
    keygen.set_defaults(func=cmd_keygen)

    key_id_command = commands.add_parser("key-id", help="print the id audit events and logs use for the API key on standard input")
    key_id_command.set_defaults(func=cmd_key_id)

    check_api.add_parser(commands)

    build_index = commands.add_parser("build-index", help="build the docs search index from the corpus")
    config_option(build_index)
    index_build.add_arguments(build_index)
    build_index.set_defaults(func=cmd_build_index)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, SandboxConfigError, StartupError, StoreUnavailable) as exc:
        flush_logs()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        where = f": {exc.filename}" if exc.filename else ""
        flush_logs()
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 130
    except Exception as exc:
        # Not an operator mistake: the details go to the (redacted) JSON log, one line to the terminal.
        if logging.getLogger().handlers:  # only our JSON handler: the default one would print the raw traceback
            log.exception("start-up failed")
        flush_logs()
        print(f"{PROG}: error: unexpected {type(exc).__name__}: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    return EXIT_STARTUP
