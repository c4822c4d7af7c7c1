"""What the benchmark's child servers share: bind an ephemeral loopback port and say where it is."""

from __future__ import annotations

import socket

READY_PREFIX = "LISTENING "


def listen_and_report(host: str = "127.0.0.1") -> socket.socket:
    """Bind port 0 (never a fixed port), print `LISTENING <url>` for the parent, return the socket."""
    sock = socket.create_server((host, 0), backlog=1024)
    sock.setblocking(False)
    print(f"{READY_PREFIX}http://{host}:{sock.getsockname()[1]}", flush=True)
    return sock
