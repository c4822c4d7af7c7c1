"""Settings: `config.toml` defaults, overridden by `STATUSPAL_MCP_<SECTION>_<KEY>` environment variables.

Every section is a plain frozen dataclass so a typo in a key is a start-up error, not a silent default.
Secrets (sealing keys, the Redis URL) are read from the environment only and never from the file, so a
committed config can never carry one.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from gateway.client_address import parse_networks

ENV_PREFIX = "STATUSPAL_MCP_"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


class ConfigError(Exception):
    """A configuration problem, reported to the operator as one line (never a traceback)."""


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

    @property
    def resource_url(self) -> str:
        """The canonical MCP resource: exactly `<public_url>/mcp`, never with a trailing slash."""
        return f"{self.public_url}/mcp"

    @property
    def resource_metadata_url(self) -> str:
        return f"{self.public_url}/.well-known/oauth-protected-resource/mcp"


@dataclass(frozen=True)
class StatusPalSettings:
    base_url: str = "http://127.0.0.1:8081/api/v1"
    connect_timeout_seconds: float = 5.0
    total_timeout_seconds: float = 30.0
    max_retries: int = 3
    retry_backoff_seconds: float = 0.2
    retry_after_max_seconds: float = 10.0
    rate_per_second: float = 10.0
    rate_burst: int = 10
    key_cache_seconds: float = 60.0
    max_pages: int = 50
    endpoints: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SandboxSettings:
    embedded: bool = True
    host: str = "127.0.0.1"
    port: int = 8081
    demo_key: str = "sk_sandbox_demo"
    persist_path: str = ""
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    drop_rate: float = 0.0


@dataclass(frozen=True)
class OAuthSettings:
    access_token_ttl_seconds: int = 86400
    refresh_token_ttl_seconds: int = 30 * 86400
    code_ttl_seconds: int = 300
    refresh_grace_seconds: int = 60
    csrf_ttl_seconds: int = 900
    redirect_hosts: tuple[str, ...] = ("claude.ai", "claude.com", "chatgpt.com")
    redirect_schemes: tuple[str, ...] = ("cursor", "vscode", "windsurf")
    cimd_max_bytes: int = 5120
    cimd_timeout_seconds: float = 5.0
    cimd_allow_loopback: bool = False
    rate_limit_attempts: int = 10
    rate_limit_window_seconds: int = 60


@dataclass(frozen=True)
class SearchSettings:
    corpus_dir: str = "docs_corpus"
    index_dir: str = ".index"
    docs_base_url: str = "https://docs.statuspal-mcp.dev"
    reload_interval_seconds: float = 2.0


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class Secrets:
    """Values that only ever come from the environment."""

    sealing_keys: str = ""
    redis_url: str = ""

    def __repr__(self) -> str:  # never print a secret, even in a debugger or a crash report
        return f"Secrets(sealing_keys={'set' if self.sealing_keys else 'unset'}, redis_url={'set' if self.redis_url else 'unset'})"


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    statuspal: StatusPalSettings = field(default_factory=StatusPalSettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    secrets: Secrets = field(default_factory=Secrets)
    # Directory relative paths in the file are resolved against (the config file's own folder).
    root: Path = field(default_factory=lambda: DEFAULT_CONFIG.parent)

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.root / p


_SECTIONS: dict[str, type] = {
    "server": ServerSettings,
    "statuspal": StatusPalSettings,
    "sandbox": SandboxSettings,
    "oauth": OAuthSettings,
    "search": SearchSettings,
    "logging": LoggingSettings,
}


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read the TOML file, apply environment overrides, then explicit overrides (CLI flags, tests)."""
    env = os.environ if env is None else env
    config_path = Path(path) if path else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {config_path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None

    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"unknown config section(s) in {config_path}: {', '.join(sorted(unknown))}")

    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        values = dict(raw.get(name, {}))
        for key, text in _env_values(env, name, cls).items():
            values[key] = text
        for key, value in (overrides or {}).get(name, {}).items():
            values[key] = value
        sections[name] = _build_section(name, cls, values)

    secrets = Secrets(
        sealing_keys=env.get(f"{ENV_PREFIX}SEALING_KEYS", ""),
        redis_url=env.get(f"{ENV_PREFIX}REDIS_URL", ""),
    )
    settings = Settings(**sections, secrets=secrets, root=config_path.resolve().parent)
    _check(settings)
    return settings


def _env_values(env: Mapping[str, str], section: str, cls: type) -> dict[str, str]:
    prefix = f"{ENV_PREFIX}{section.upper()}_"
    names = {f.name.upper(): f.name for f in dataclasses.fields(cls)}
    found: dict[str, str] = {}
    for var, text in env.items():
        if not var.startswith(prefix):
            continue
        key = var[len(prefix):]
        if section == "statuspal" and key.startswith("ENDPOINTS_"):
            found.setdefault("endpoints", {})  # type: ignore[arg-type]
            found["endpoints"][key[len("ENDPOINTS_"):].lower()] = text  # type: ignore[index]
            continue
        if key not in names:
            raise ConfigError(f"unknown setting in environment variable {var}")
        found[names[key]] = text
    return found


def _build_section(name: str, cls: type, values: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    extra = set(values) - known
    if extra:
        raise ConfigError(f"unknown setting(s) in [{name}]: {', '.join(sorted(extra))}")
    converted: dict[str, Any] = {}
    for key, value in values.items():
        if name == "statuspal" and key == "endpoints":
            merged = dict(value) if isinstance(value, Mapping) else {}
            converted[key] = merged
            continue
        converted[key] = _coerce(f"{name}.{key}", hints[key], value)
    return cls(**converted)


def _coerce(label: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                raise ValueError
            return value
        if origin is tuple:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError
            return tuple(value)
    except (TypeError, ValueError):
        raise ConfigError(f"bad value for {label}: {value!r} (expected {getattr(hint, '__name__', hint)})") from None
    return value


def _check(settings: Settings) -> None:
    server = settings.server
    parts = urlsplit(server.public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("",) or server.public_url.endswith("/"):
        raise ConfigError(f"bad value for server.public_url: {server.public_url!r} (expected scheme://host[:port] with no path or trailing slash)")
    if not 0 < server.port < 65536:
        raise ConfigError(f"bad value for server.port: {server.port}")
    for name in ("keepalive_timeout_seconds", "request_timeout_seconds"):
        if not 0 < getattr(server, name) < 86400:  # also refuses nan and inf, which would unbound the connection
            raise ConfigError(f"bad value for server.{name}: {getattr(server, name)} (must be more than 0 and less than a day)")
    if server.max_body_bytes < 1024:
        raise ConfigError("bad value for server.max_body_bytes: must be at least 1024")
    try:
        parse_networks(server.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"bad value for server.trusted_proxies: {exc}") from None
    upstream = urlsplit(settings.statuspal.base_url)
    if upstream.scheme not in ("http", "https") or not upstream.netloc:
        raise ConfigError(f"bad value for statuspal.base_url: {settings.statuspal.base_url!r}")
    if settings.statuspal.rate_per_second <= 0 or settings.statuspal.rate_burst < 1:
        raise ConfigError("statuspal.rate_per_second must be > 0 and statuspal.rate_burst >= 1")
    if not 0 <= settings.sandbox.port < 65536:
        raise ConfigError(f"bad value for sandbox.port: {settings.sandbox.port}")
    if server.production:
        if not settings.secrets.sealing_keys:
            raise ConfigError(f"production mode needs {ENV_PREFIX}SEALING_KEYS (generate one with `statuspal-mcp keygen`)")
        if parts.scheme != "https":
            raise ConfigError("production mode needs an https server.public_url")
        if settings.sandbox.embedded:
            raise ConfigError("production mode cannot embed the sandbox; set sandbox.embedded = false")
    if settings.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"bad value for logging.level: {settings.logging.level!r}")
