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
        "STATUSPAL_MCP_STATUSPAL_ENDPOINTS_NOTICES_RESOLVE": "put /notices/{notice_id}/resolution",
        "STATUSPAL_MCP_STATUSPAL_NOTICES_AFFECTED_SHAPE": "map",
        "STATUSPAL_MCP_SEALING_KEYS": "k1:abc",
        "STATUSPAL_MCP_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    settings = load_settings(DEFAULT_CONFIG, env=env)
    assert settings.server.port == 9000
    assert settings.server.allowed_hosts == ("a.example:443", "b.example")
    assert settings.statuspal.total_timeout_seconds == 2.5
    assert settings.secrets.sealing_keys == "k1:abc"
    assert "abc" not in repr(settings.secrets) and "redis://" not in repr(settings.secrets)
    table = EndpointTable.from_settings(settings.statuspal)
    assert (table["notices_resolve"].method, table["notices_resolve"].path) == ("PUT", "/notices/{notice_id}/resolution")
    assert table["notices_resolve"].org_scoped and table.notices.affected_shape == "map"
    # An org-scoped route carries the page in its body instead; a page-nested one does not.
    assert "status_page_subdomain" in table["notices_resolve"].body_fields
    assert "status_page_subdomain" not in table["notices_close"].body_fields


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
        ({"STATUSPAL_MCP_SERVER_KEEPALIVE_TIMEOUT_SECONDS": "0"},
         "bad value for server.keepalive_timeout_seconds: 0.0 (must be more than 0 and less than a day)"),
        ({"STATUSPAL_MCP_SERVER_REQUEST_TIMEOUT_SECONDS": "-1"},
         "bad value for server.request_timeout_seconds: -1.0 (must be more than 0 and less than a day)"),
        ({"STATUSPAL_MCP_SERVER_KEEPALIVE_TIMEOUT_SECONDS": "inf"}, "bad value for server.keepalive_timeout_seconds: inf"),
        ({"STATUSPAL_MCP_SERVER_REQUEST_TIMEOUT_SECONDS": "nan"},
         "bad value for server.request_timeout_seconds: nan (must be more than 0 and less than a day)"),
        ({"STATUSPAL_MCP_SERVER_PRODUCTION": "true"}, "production mode needs STATUSPAL_MCP_SEALING_KEYS"),
        ({"STATUSPAL_MCP_LIMITS_WINDOW_SECONDS": "0"}, "bad value for limits.window_seconds: 0.0 (must be more than 0)"),
        ({"STATUSPAL_MCP_LIMITS_ADDRESS_REQUESTS": "-1"}, "bad value for limits.address_requests: -1 (must be 0 (off) or more)"),
        ({"STATUSPAL_MCP_LIMITS_KEY_CHECKS_IN_FLIGHT": "0"}, "bad value for limits.key_checks_in_flight: 0 (must be at least 1)"),
        ({"STATUSPAL_MCP_LIMITS_REJECTED_KEY_CACHE_SECONDS": "nan"}, "bad value for limits.rejected_key_cache_seconds: nan"),
    ],
)
def test_bad_values_are_one_line_errors(env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(DEFAULT_CONFIG, env=env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_store_bounds_are_settings_and_must_be_positive():
    settings = load_settings(DEFAULT_CONFIG, env={"STATUSPAL_MCP_STORE_SESSION_ENDS_PER_HOUR": "7", "STATUSPAL_MCP_STORE_MEMORY_MAX_ENTRIES": "1000"})
    assert (settings.store.session_ends_per_hour, settings.store.memory_max_entries) == (7, 1000)
    assert load_settings(DEFAULT_CONFIG, env={}).store.token_grants_per_hour == 20
    for name in ("MEMORY_MAX_ENTRIES", "MEMORY_MAX_COUNTERS", "SESSION_ENDS_PER_HOUR", "TOKEN_GRANTS_PER_HOUR"):
        with pytest.raises(ConfigError, match=rf"^bad value for store.{name.lower()}: 0 \(must be at least 1\)$"):
            load_settings(DEFAULT_CONFIG, env={f"STATUSPAL_MCP_STORE_{name}": "0"})


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


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENDPOINTS_NOTICES_FROBNICATE": "POST /x"}, "unknown endpoint in [statuspal.endpoints]: notices_frobnicate"),
        ({"ENDPOINTS_NOTICES_RESOLVE": "RESOLVE it"}, "bad value for statuspal.endpoints.notices_resolve: 'RESOLVE it'"),
        ({"ENDPOINTS_NOTICES_RESOLVE": "POST notices/{notice_id}"}, "expected \"METHOD /path\""),
        ({"ENDPOINTS_NOTICES_RESOLVE": "POST /status_pages/{subdomain}/resolve"}, "must use the placeholders {subdomain} {notice_id}"),
        ({"ENDPOINTS_NOTICES_GET": "GET /notices/{id}"}, "must use the placeholders {subdomain} {notice_id}"),
        ({"ENDPOINTS_NOTICES_GET": "GET /notices/{notice_id}/{Notice}"}, "statuspal.endpoints.notices_get"),
        # Only the unconfirmed notices routes may be org-scoped; services are confirmed page-nested.
        ({"ENDPOINTS_SERVICES_GET": "GET /services/{slug}"}, "statuspal.endpoints.services_get"),
        ({"ENDPOINTS_NOTICES_RESOLVE": "PATCH /status_pages/{subdomain}/notices/{notice_id}"},
         "notices_update and notices_resolve both map to PATCH"),
        ({"NOTICES_COLOUR_FIELD": "hue"}, "unknown setting(s) in [statuspal.notices]: colour_field"),
        ({"NOTICES_TEXT_FIELD": "the text"}, "bad value for statuspal.notices.text_field: 'the text'"),
        ({"NOTICES_TEXT_FIELD": "title"}, "statuspal.notices.title_field and statuspal.notices.text_field are both 'title'"),
        ({"NOTICES_AFFECTED_SHAPE": "tree"}, "bad value for statuspal.notices.affected_shape: 'tree' (expected one of objects, map, list)"),
        ({"NOTICES_RESOLVE_STRATEGY": "delete"}, "bad value for statuspal.notices.resolve_strategy"),
        ({"NOTICES_STATE_INCIDENT_RESOLVED": " , "}, "bad value for statuspal.notices.state_incident_resolved: ' , ' "
         "(expected one or more state words, comma-separated)"),
        ({"NOTICES_STATE_INCIDENT_RESOLVED": "closed,open"}, "statuspal.notices.state_incident_open and "
         "statuspal.notices.state_incident_resolved both name 'open': within one notice type each wire word names one state"),
        ({"NOTICES_NAIVE_TIMES": "local"}, "bad value for statuspal.notices.naive_times: 'local' (expected one of none, utc, page)"),
    ],
)
def test_bad_wire_overrides_are_one_line_config_errors(env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(DEFAULT_CONFIG, env={f"STATUSPAL_MCP_STATUSPAL_{k}": v for k, v in env.items()})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_config_toml_documents_every_endpoint_and_notice_wire_key():
    import tomllib

    from gateway.statuspal.notice_wire import NoticeWire

    raw = tomllib.loads(DEFAULT_CONFIG.read_text())
    assert set(raw["statuspal"]["notices"]) == set(NoticeWire.keys())
    assert load_settings(DEFAULT_CONFIG, env={}).statuspal.notices == NoticeWire()
    # The unknown-endpoint error sends the operator to config.toml for the names: every one is there.
    missing = [e.name for e in DEFAULT_ENDPOINTS if e.name not in DEFAULT_CONFIG.read_text()]
    assert not missing, missing


def test_wire_overrides_from_the_file(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[statuspal.endpoints]\nnotices_create = "POST /notices"\n'
        '[statuspal.notices]\ntext_field = "body"\nresolve_strategy = "patch_ends_at"\n'
        '[sandbox]\nstrictness = "lenient"\n'
    )
    settings = load_settings(cfg, env={})
    table = EndpointTable.from_settings(settings.statuspal)
    assert table["notices_create"].body_fields[-1] == "status_page_subdomain" and "body" in table["notices_create"].body_fields
    assert table.notices.unused_endpoints() == {"notices_resolve"} and settings.sandbox.strictness == "lenient"
    # One environment variable corrects one entry; the file's others stay.
    merged = load_settings(cfg, env={"STATUSPAL_MCP_STATUSPAL_NOTICES_NOTIFY_FIELD": "notify_subscribers",
                                     "STATUSPAL_MCP_STATUSPAL_ENDPOINTS_NOTICES_GET": "GET /notices/{notice_id}"})
    assert (merged.statuspal.notices.text_field, merged.statuspal.notices.notify_field) == ("body", "notify_subscribers")
    assert set(merged.statuspal.endpoints) == {"notices_create", "notices_get"}
    with pytest.raises(ConfigError, match="bad value for sandbox.strictness: 'loose'"):
        load_settings(cfg, env={"STATUSPAL_MCP_SANDBOX_STRICTNESS": "loose"})


def test_state_words_come_from_the_file_as_a_list_or_from_the_environment_comma_separated(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[statuspal.notices]\nstate_incident_resolved = ["resolved", "ended"]\nstate_info_open = "active"\n')
    env = {"STATUSPAL_MCP_STATUSPAL_NOTICES_STATE_MAINTENANCE_COMPLETED": "done, over",
           "STATUSPAL_MCP_STATUSPAL_NOTICES_STATE_INFO_CLOSED": "ended"}
    wire = load_settings(cfg, env=env).statuspal.notices
    assert wire.state_words("incident", "resolved") == ("resolved", "ended")
    assert wire.state_words("maintenance", "completed") == ("done", "over")
    # A word means the state its notice type gives it; without a type, the one state all types agree on.
    assert (wire.state_of("incident", "ended"), wire.state_of("info", "active"), wire.state_of(None, "done")) == (
        "resolved", "open", "completed")
    assert (wire.state_of("info", "open"), wire.state_of(None, "open")) == (None, "open")  # info says active
    assert (wire.state_of("info", "ended"), wire.state_of(None, "ended")) == ("closed", None)  # two states: unknown
    assert wire.filter_words("open") == ("open", "active") and wire.filter_words("open", "info") == ("active",)


def test_paths_escape_every_segment():
    table = EndpointTable()
    assert table["services_get"].render({"subdomain": "acme", "slug": "../../admin"}) == (
        "/status_pages/acme/services/..%2F..%2Fadmin"
    )
    unconfirmed = {e.name for e in DEFAULT_ENDPOINTS if not e.confirmed}
    assert "webhooks_rotate_secret" in unconfirmed and "notices_create" in unconfirmed
