"""`[server]` in config.toml: where the gateway listens, which hosts and origins it serves, and its connection
deadlines; here, beside the connections that use them, and read by `gateway.config`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    production: bool = False
    allowed_hosts: tuple[str, ...] = ("127.0.0.1:8080", "localhost:8080")
    allowed_origins: tuple[str, ...] = ("http://127.0.0.1:8080", "http://localhost:8080")
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 4 * 1024 * 1024
    shutdown_timeout_seconds: float = 15.0
    keepalive_timeout_seconds: float = 30.0
    request_timeout_seconds: float = 20.0
    sse_keepalive_seconds: float = 15.0
    tools_page_size: int = 50
    trusted_proxies: tuple[str, ...] = ()
    # Worker processes sharing the listening socket (`serve --workers`); `auto` in the file is read as the cores.
    workers: int = 1

    @property
    def resource_url(self) -> str:
        """The canonical MCP resource: exactly `<public_url>/mcp`, never with a trailing slash."""
        return f"{self.public_url}/mcp"

    @property
    def resource_metadata_url(self) -> str:
        return f"{self.public_url}/.well-known/oauth-protected-resource/mcp"
