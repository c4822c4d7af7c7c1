"""Settings: `config.toml` defaults, overridden by `STATUSPAL_MCP_<SECTION>_<KEY>` environment variables.

Every section is a plain frozen dataclass so a typo in a key is a start-up error, not a silent default.
Secrets (sealing keys, the Redis URL) are read from the environment only and never from the file, so a
committed config can never carry one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.auth.sealing import Keyring, KeyringError
from gateway.observability.audit import AuditSettings
from gateway.observability.telemetry import TelemetrySettings
from gateway.protocol.confirm.settings import ConfirmSettings
from gateway.statuspal.endpoints import DEFAULT_ENDPOINTS, METHODS, PLACEHOLDER, split_route
from gateway.statuspal.notice_wire import (
    AFFECTED_REFS,
    AFFECTED_SHAPES,
    END_STRATEGIES,
    NAIVE_TIMES,
    NOTICE_STATES,
    REQUEST_FIELDS,
    STATE_KEYS,
    NoticeWire,
    state_words,
)
from gateway.statuspal.settings import StatusPalSettings
from gateway.web.client_address import parse_networks
from gateway.web.settings import ServerSettings
from sandbox.settings import SANDBOX_STRICTNESS, SandboxSettings
from search.settings import SearchSettings

ENV_PREFIX = "STATUSPAL_MCP_"
# In development only: where a generated sealing key is kept (git-ignored), so restarts keep issued tokens.
DEV_KEY_FILE = ".sealing-key"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


class ConfigError(Exception):
    """A configuration problem, reported to the operator as one line (never a traceback)."""


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
class StoreSettings:
    """Bounds on what requests may write to the store. Quotas are per StatusPal key and per hour."""

    memory_max_entries: int = 500_000
    memory_max_counters: int = 200_000
    session_ends_per_hour: int = 120
    token_grants_per_hour: int = 20
    entries_per_key: int = 2000


@dataclass(frozen=True)
class LimitsSettings:
    """Inbound budgets on /mcp and on key checks; 0 turns a request budget off."""

    window_seconds: float = 60.0
    address_requests: int = 6000
    principal_requests: int = 1200
    key_checks_per_address: int = 60
    key_checks_in_flight: int = 32
    key_checks_per_second: float = 20.0
    rejected_key_cache_seconds: float = 30.0


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
    store: StoreSettings = field(default_factory=StoreSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    confirm: ConfirmSettings = field(default_factory=ConfirmSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    secrets: Secrets = field(default_factory=Secrets)
    # OpenTelemetry, from the standard OTEL_* variables only (off unless they ask for it; docs/telemetry.md).
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
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
    "store": StoreSettings,
    "search": SearchSettings,
    "limits": LimitsSettings,
    "confirm": ConfirmSettings,
    "audit": AuditSettings,
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
        # A table ([statuspal.endpoints], [statuspal.notices]) is merged key by key, so one environment
        # variable corrects one entry instead of discarding the file's others.
        for layer in (_env_values(env, name, cls), (overrides or {}).get(name, {})):
            for key, value in layer.items():
                if isinstance(value, Mapping) and isinstance(values.get(key), Mapping):
                    value = {**values[key], **value}
                values[key] = value
        sections[name] = _build_section(name, cls, values)

    secrets = Secrets(
        sealing_keys=env.get(f"{ENV_PREFIX}SEALING_KEYS", ""),
        redis_url=env.get(f"{ENV_PREFIX}REDIS_URL", ""),
    )
    try:
        telemetry = TelemetrySettings.from_environ(env)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings = Settings(**sections, secrets=secrets, telemetry=telemetry, root=config_path.resolve().parent)
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
        table = next((t for t in ("ENDPOINTS", "NOTICES") if section == "statuspal" and key.startswith(t + "_")), None)
        if table is not None:
            found.setdefault(table.lower(), {})  # type: ignore[arg-type]
            found[table.lower()][key[len(table) + 1:].lower()] = text  # type: ignore[index]
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
            converted[key] = _routes(value)
            continue
        if name == "statuspal" and key == "notices":
            converted[key] = _notice_wire(value)
            continue
        if name == "server" and key == "workers":
            converted[key] = parse_workers(value, "server.workers")
            continue
        converted[key] = _coerce(f"{name}.{key}", hints[key], value)
    return cls(**converted)


def _routes(value: Any) -> dict[str, str]:
    """`[statuspal.endpoints]`: each value one "METHOD /path" string (the paths themselves: _check_routes)."""
    if not isinstance(value, Mapping):
        raise ConfigError("[statuspal.endpoints] must be a table of endpoint = \"METHOD /path\" lines")
    for name, spec in value.items():
        if not isinstance(spec, str):
            raise ConfigError(f"bad value for statuspal.endpoints.{name}: {spec!r} (expected \"METHOD /path\")")
    return dict(value)


_WIRE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_WIRE_CHOICES = {
    "affected_shape": AFFECTED_SHAPES,
    "resolve_strategy": END_STRATEGIES,
    "close_strategy": END_STRATEGIES,
    "naive_times": NAIVE_TIMES,
    "affected_ref": AFFECTED_REFS,
}
_STATE_WORD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ -]{0,63}$")


def _notice_wire(value: Any) -> NoticeWire:
    """`[statuspal.notices]`: every key known, every name a plain JSON key, no two request fields on one name."""
    if not isinstance(value, Mapping):
        raise ConfigError("[statuspal.notices] must be a table of key = \"value\" lines")
    unknown = set(value) - set(NoticeWire.keys())
    if unknown:
        raise ConfigError(f"unknown setting(s) in [statuspal.notices]: {', '.join(sorted(unknown))}")
    value = dict(value)
    for key, text in value.items():
        label = f"statuspal.notices.{key}"
        if key.startswith("state_") and key != "state_field":
            # Several words for one state: a TOML list, or comma-separated (as an environment variable is).
            words = [str(w) for w in text] if isinstance(text, list) else state_words(text) if isinstance(text, str) else []
            if not words or not all(_STATE_WORD.match(w.strip()) for w in words):
                raise ConfigError(f"bad value for {label}: {text!r} (expected one or more state words, comma-separated)")
            value[key] = ",".join(w.strip() for w in words)
        elif key in _WIRE_CHOICES:
            if text not in _WIRE_CHOICES[key]:
                raise ConfigError(f"bad value for {label}: {text!r} (expected one of {', '.join(_WIRE_CHOICES[key])})")
        elif not isinstance(text, str) or not _WIRE_NAME.match(text):
            raise ConfigError(f"bad value for {label}: {text!r} (expected a JSON field name: a letter or _, then letters, digits or _)")
    wire = NoticeWire(**value)
    sent = {attr: getattr(wire, attr) for attr in (*REQUEST_FIELDS.values(), "page_field")}
    seen: dict[str, str] = {}
    for attr, name in sent.items():
        if name in seen:
            raise ConfigError(f"statuspal.notices.{seen[name]} and statuspal.notices.{attr} are both {name!r}: each field needs its own name")
        seen[name] = attr
    if wire.affected_service_key == wire.affected_containers_key:
        raise ConfigError("statuspal.notices.affected_service_key and affected_containers_key must differ")
    # Within one notice type a word names one state, or a state read back could not be told.
    for kind, states in NOTICE_STATES.items():
        owner: dict[str, str] = {}
        for state in states:
            for word in wire.state_words(kind, state):
                if word in owner:
                    raise ConfigError(
                        f"statuspal.notices.{owner[word]} and statuspal.notices.{STATE_KEYS[kind, state]} both name "
                        f"{word!r}: within one notice type each wire word names one state"
                    )
                owner[word] = STATE_KEYS[kind, state]
    return wire


def parse_workers(value: Any, label: str) -> int:
    """A worker count: a whole number of at least 1, or `auto` for the cores this process may run on."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        count = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"bad value for {label}: {value!r} (expected a number of processes, at least 1, or auto)") from None
    if count < 1:
        raise ConfigError(f"bad value for {label}: {count} (expected a number of processes, at least 1, or auto)")
    return count


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


def load_keyring(settings: Settings) -> Keyring:
    """The sealing keyring from the environment; in development only, a generated key kept in `.sealing-key`."""
    check_sealing_keys(settings)
    try:
        if settings.secrets.sealing_keys:
            return Keyring.parse(settings.secrets.sealing_keys)
        return Keyring.parse(_dev_key(settings.path(DEV_KEY_FILE)))
    except KeyringError as exc:
        raise ConfigError(str(exc)) from None


def _dev_key(path: os.PathLike[str] | str) -> str:
    """Read or create the development key file (mode 0600, git-ignored). Two processes starting together agree:
    the file is created exclusively, and the loser of that race reads the winner's key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the creator may still be writing it
            text = open(path, encoding="ascii").read().strip()
            if text:
                return text
            time.sleep(0.01)
        raise ConfigError(f"the development sealing key file {path} is empty; delete it to have a new one generated") from None
    key = Keyring.generate_secret()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    logging.getLogger(__name__).warning(
        "no %sSEALING_KEYS set: generated a development sealing key in %s. Tokens issued with it stop working if "
        "that file is deleted; production needs the environment variable.",
        ENV_PREFIX,
        path,
    )
    return key


def check_sealing_keys(settings: Settings) -> None:
    """Production never runs on a generated development key: it lives in one file on one instance, so tokens
    sealed with it would stop working on every other instance and after any redeploy. Also called by the
    keyring itself, so settings built without `load_settings` cannot slip past."""
    if settings.server.production and not settings.secrets.sealing_keys:
        raise ConfigError(f"production mode needs {ENV_PREFIX}SEALING_KEYS (generate one with `statuspal-mcp keygen`)")


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
    if server.tools_page_size < 1:
        raise ConfigError(f"bad value for server.tools_page_size: {server.tools_page_size} (must be at least 1)")
    if not server.sse_keepalive_seconds > 0:  # `not >` also refuses nan, which would never send a keep-alive
        raise ConfigError(f"bad value for server.sse_keepalive_seconds: {server.sse_keepalive_seconds} (must be more than 0)")
    try:
        parse_networks(server.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"bad value for server.trusted_proxies: {exc}") from None
    upstream = urlsplit(settings.statuspal.base_url)
    if upstream.scheme not in ("http", "https") or not upstream.netloc:
        raise ConfigError(f"bad value for statuspal.base_url: {settings.statuspal.base_url!r}")
    if settings.statuspal.rate_per_second <= 0 or settings.statuspal.rate_burst < 1:
        raise ConfigError("statuspal.rate_per_second must be > 0 and statuspal.rate_burst >= 1")
    _check_routes(settings.statuspal)
    if settings.sandbox.strictness not in SANDBOX_STRICTNESS:
        raise ConfigError(f"bad value for sandbox.strictness: {settings.sandbox.strictness!r} (expected strict or lenient)")
    if not 0 <= settings.sandbox.port < 65536:
        raise ConfigError(f"bad value for sandbox.port: {settings.sandbox.port}")
    check_sealing_keys(settings)
    if server.production:
        if parts.scheme != "https":
            raise ConfigError("production mode needs an https server.public_url")
        if settings.sandbox.embedded:
            raise ConfigError("production mode cannot embed the sandbox; set sandbox.embedded = false")
    for name, value in dataclasses.asdict(settings.store).items():
        if value < 1:
            raise ConfigError(f"bad value for store.{name}: {value} (must be at least 1)")
    limits = settings.limits
    for name, value, least, rule in (
        ("window_seconds", limits.window_seconds, 0.001, "more than 0"),
        ("address_requests", limits.address_requests, 0, "0 (off) or more"),
        ("principal_requests", limits.principal_requests, 0, "0 (off) or more"),
        ("key_checks_per_address", limits.key_checks_per_address, 1, "at least 1"),
        ("key_checks_in_flight", limits.key_checks_in_flight, 1, "at least 1"),
        ("key_checks_per_second", limits.key_checks_per_second, 0.01, "at least 0.01"),
        ("rejected_key_cache_seconds", limits.rejected_key_cache_seconds, 0, "0 or more"),
    ):
        if not value >= least:  # `not >=` also refuses nan
            raise ConfigError(f"bad value for limits.{name}: {value} (must be {rule})")
    if settings.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"bad value for logging.level: {settings.logging.level!r}")


def _check_routes(statuspal: StatusPalSettings) -> None:
    """Every `[statuspal.endpoints]` override: a known endpoint, a real method, a path with the same
    placeholders as the default (notices may drop {subdomain}), and no two used endpoints on one route.

    A wrong override would otherwise surface as a ValueError deep inside the first call, or as the sandbox
    refusing to start with a traceback; here it is one line naming the setting.
    """
    defaults = {e.name: e for e in DEFAULT_ENDPOINTS}
    routes = {name: (e.method, e.path) for name, e in defaults.items()}
    for name, spec in statuspal.endpoints.items():
        label = f"statuspal.endpoints.{name}"
        if name not in defaults:
            raise ConfigError(f"unknown endpoint in [statuspal.endpoints]: {name} (config.toml lists the names)")
        method, path = split_route(spec)
        if method not in METHODS or not path.startswith("/") or any(c.isspace() or c in "?#" for c in path):
            raise ConfigError(
                f"bad value for {label}: {spec!r} (expected \"METHOD /path\", METHOD one of {', '.join(METHODS)})"
            )
        default = defaults[name]
        found = PLACEHOLDER.findall(path)
        leftover = PLACEHOLDER.sub("", path)
        allowed = [set(default.path_params)]
        if default.page_optional:
            allowed.append(set(default.path_params) - {"subdomain"})
        if "{" in leftover or "}" in leftover or len(found) != len(set(found)) or set(found) not in allowed:
            wanted = " ".join("{" + p + "}" for p in default.path_params)
            optional = " ({subdomain} may be left out: the page then goes as statuspal.notices.page_field)" if default.page_optional else ""
            raise ConfigError(f"bad value for {label}: {spec!r} must use the placeholders {wanted}{optional}")
        routes[name] = (method, path)
    unused = statuspal.notices.unused_endpoints()
    taken: dict[tuple[str, str], str] = {}
    for name, route in routes.items():
        if name in unused:
            continue
        if route in taken:
            hint = ""
            if {name, taken[route]} & {"notices_resolve", "notices_close"}:
                hint = "; to end a notice by PATCHing its ends_at, set statuspal.notices.resolve_strategy / close_strategy = \"patch_ends_at\""
            raise ConfigError(f"statuspal.endpoints: {taken[route]} and {name} both map to {route[0]} {route[1]}{hint}")
        taken[route] = name
