"""Settings: the committed config.toml, environment overrides, and the errors an operator sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import DEFAULT_CONFIG, ConfigError, load_settings
from gateway.statuspal.endpoints import DEFAULT_ENDPOINTS, EndpointTable


def test_committed_config_loads_with_documented_defaults():
    settings = load_settings(DEFAULT_CONFIG, env={})
    assert settings.server.resource_url == "http://127.0.0.1:8080/mcp"
    assert settings.server.resource_metadata_url == "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"
    assert settings.sandbox.demo_key == "sk_sandbox_demo"
    assert settings.statuspal.rate_per_second == 10.0 and settings.statuspal.rate_burst == 10
    assert settings.oauth.access_token_ttl_seconds == 24 * 3600


def test_committed_config_holds_no_secret():
    text = DEFAULT_CONFIG.read_text()
    assert "sealing_keys" not in text.replace("STATUSPAL_MCP_SEALING_KEYS", "")
    assert "redis://" not in text


def test_environment_overrides_every_type():
    env = {
        "STATUSPAL_MCP_SERVER_PORT": "9000",
        "STATUSPAL_MCP_SERVER_PRODUCTION": "false",
        "STATUSPAL_MCP_SERVER_ALLOWED_HOSTS": "a.example:443, b.example",
        "STATUSPAL_MCP_STATUSPAL_TOTAL_TIMEOUT_SECONDS": "2.5",
        "STATUSPAL_MCP_STATUSPAL_ENDPOINTS_NOTICES_RESOLVE": "PATCH /status_pages/{subdomain}/notices/{notice_id}",
        "STATUSPAL_MCP_SEALING_KEYS": "k1:abc",
        "STATUSPAL_MCP_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    settings = load_settings(DEFAULT_CONFIG, env=env)
    assert settings.server.port == 9000
    assert settings.server.allowed_hosts == ("a.example:443", "b.example")
    assert settings.statuspal.total_timeout_seconds == 2.5
    assert settings.secrets.sealing_keys == "k1:abc"
    assert "abc" not in repr(settings.secrets) and "redis://" not in repr(settings.secrets)
    table = EndpointTable(settings.statuspal.endpoints)
    assert (table["notices_resolve"].method, table["notices_resolve"].path) == (
        "PATCH",
        "/status_pages/{subdomain}/notices/{notice_id}",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STATUSPAL_MCP_SERVER_PORT": "eighty"}, "bad value for server.port: 'eighty'"),
        ({"STATUSPAL_MCP_SERVER_PORT": "70000"}, "bad value for server.port: 70000"),
        ({"STATUSPAL_MCP_SERVER_PRODUCTION": "maybe"}, "bad value for server.production"),
        ({"STATUSPAL_MCP_SERVER_PUBLIC_URL": "https://mcp.example/"}, "bad value for server.public_url"),
        ({"STATUSPAL_MCP_SERVER_PUBLIC_URL": "mcp.example"}, "bad value for server.public_url"),
        ({"STATUSPAL_MCP_SERVER_NOPE": "1"}, "unknown setting in environment variable STATUSPAL_MCP_SERVER_NOPE"),
        ({"STATUSPAL_MCP_LOGGING_LEVEL": "LOUD"}, "bad value for logging.level"),
        ({"STATUSPAL_MCP_SERVER_KEEPALIVE_TIMEOUT_SECONDS": "0"}, "bad value for server.keepalive_timeout_seconds: 0.0 (must be more than 0 and less than a day)"),
        ({"STATUSPAL_MCP_SERVER_REQUEST_TIMEOUT_SECONDS": "-1"}, "bad value for server.request_timeout_seconds: -1.0 (must be more than 0 and less than a day)"),
        ({"STATUSPAL_MCP_SERVER_KEEPALIVE_TIMEOUT_SECONDS": "inf"}, "bad value for server.keepalive_timeout_seconds: inf"),
        ({"STATUSPAL_MCP_SERVER_REQUEST_TIMEOUT_SECONDS": "nan"}, "bad value for server.request_timeout_seconds: nan (must be more than 0 and less than a day)"),
        ({"STATUSPAL_MCP_SERVER_PRODUCTION": "true"}, "production mode needs STATUSPAL_MCP_SEALING_KEYS"),
    ],
)
def test_bad_values_are_one_line_errors(env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(DEFAULT_CONFIG, env=env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_broken_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, env={})
    typo = tmp_path / "typo.toml"
    typo.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) in \[server\]: prot"):
        load_settings(typo, env={})


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[search]\nindex_dir = "idx"\n')
    settings = load_settings(cfg, env={})
    assert settings.path(settings.search.index_dir) == tmp_path / "idx"


def test_endpoint_overrides_are_checked():
    with pytest.raises(ValueError, match="unknown endpoint"):
        EndpointTable({"notices_frobnicate": "POST /x"})
    with pytest.raises(ValueError, match="must look like 'METHOD /path'"):
        EndpointTable({"notices_resolve": "RESOLVE it"})
    with pytest.raises(ValueError, match="must use the parameters"):
        EndpointTable({"notices_resolve": "POST /status_pages/{subdomain}/resolve"})


def test_paths_escape_every_segment():
    table = EndpointTable()
    assert table["services_get"].render({"subdomain": "acme", "slug": "../../admin"}) == (
        "/status_pages/acme/services/..%2F..%2Fadmin"
    )
    unconfirmed = {e.name for e in DEFAULT_ENDPOINTS if not e.confirmed}
    assert "webhooks_rotate_secret" in unconfirmed and "notices_create" in unconfirmed
