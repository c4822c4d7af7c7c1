"""How the gateway reaches StatusPal: `[statuspal]` in config.toml, read by `gateway.config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.statuspal.notice_wire import NoticeWire


@dataclass(frozen=True)
class StatusPalSettings:
    base_url: str = "http://127.0.0.1:8081/api/v1"
    connect_timeout_seconds: float = 5.0
    total_timeout_seconds: float = 30.0
    max_retries: int = 3
    retry_backoff_seconds: float = 0.2
    retry_after_max_seconds: float = 2.0
    rate_per_second: float = 10.0
    rate_burst: int = 10
    key_cache_seconds: float = 60.0
    max_pages: int = 50
    # "METHOD /path" overrides by endpoint name, checked by _check_routes.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    # How notices look on the wire, checked by _notice_wire.
    notices: NoticeWire = field(default_factory=NoticeWire)
