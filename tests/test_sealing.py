"""Sealed tokens (JWE) and signed tokens (JWT): round trips, rotation, purpose separation, strict decoding,
and interoperability with an independent JOSE library (joserfc), which proves the tokens are standard."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import stat
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import DecodeError
from joserfc.jwk import OctKey

from gateway.auth.sealing import MAX_TOKEN_CHARS, ExpiredToken, InvalidToken, Keyring, KeyringError
from gateway.config import DEFAULT_CONFIG, ConfigError, load_keyring, load_settings

CLAIMS = {"typ": "at", "k": "sk_canary_123", "scope": "statuspal:read", "exp": 2_000_000_000, "jti": "j1"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret_of(entry: str) -> tuple[str, bytes]:
    kid, _, encoded = entry.partition(":")
    return kid, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def subkey(master: bytes, purpose: str) -> bytes:
    """The documented derivation, written out independently of gateway.auth.sealing."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"statuspal-mcp/v1/" + purpose.encode()).derive(master)


def hand_made(header: dict, payload: bytes, key: bytes, encrypted_key: str = "") -> str:
    """A compact JWE built by hand, so the decoder can be fed headers no honest library would produce."""
    protected = b64(json.dumps(header).encode())
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, payload, protected.encode())
    return f"{protected}.{encrypted_key}.{b64(nonce)}.{b64(sealed[:-16])}.{b64(sealed[-16:])}"


@pytest.fixture
def entry() -> str:
    return Keyring.generate_secret()


@pytest.fixture
def ring(entry: str) -> Keyring:
    return Keyring.parse(entry)


def test_round_trip_and_fresh_nonce(ring: Keyring) -> None:
    first, second = ring.seal("access", CLAIMS), ring.seal("access", CLAIMS)
    assert first != second  # a random nonce per token: equal claims never give equal tokens
    assert ring.unseal("access", first) == CLAIMS
    assert ring.looks_sealed(first)
    assert "sk_canary_123" not in first  # the key is encrypted, not merely encoded
    header = json.loads(base64.urlsafe_b64decode(first.split(".")[0] + "=="))
    assert header == {"alg": "dir", "enc": "A256GCM", "kid": ring.active_kid}


def test_generated_secret_is_a_kid_and_32_bytes() -> None:
    kid, secret = secret_of(Keyring.generate_secret())
    assert kid.startswith("k") and len(secret) == 32
    assert Keyring.generate_secret() != Keyring.generate_secret()


def test_rotation_old_key_opens_while_listed_and_fails_cleanly_after() -> None:
    old, new = Keyring.generate_secret(), Keyring.generate_secret()
    token = Keyring.parse(old).seal("refresh", CLAIMS)
    signed = Keyring.parse(old).sign("client", {"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]})

    rotated = Keyring.parse(f"{new},{old}")
    assert rotated.active_kid == secret_of(new)[0]
    assert rotated.unseal("refresh", token) == CLAIMS
    assert rotated.verify("client", signed)["redirect_uris"] == ["https://claude.ai/api/mcp/auth_callback"]
    assert rotated.unseal("refresh", rotated.seal("refresh", CLAIMS)) == CLAIMS
    assert Keyring.parse(new).looks_sealed(rotated.seal("access", CLAIMS))

    retired = Keyring.parse(new)
    assert not retired.looks_sealed(token)
    with pytest.raises(InvalidToken):
        retired.unseal("refresh", token)
    with pytest.raises(InvalidToken):
        retired.verify("client", signed)


def test_purposes_are_separate_keys(ring: Keyring) -> None:
    refresh = ring.seal("refresh", {**CLAIMS, "typ": "at"})  # even with a lying typ claim
    with pytest.raises(InvalidToken):
        ring.unseal("access", refresh)
    code = ring.seal("code", CLAIMS)
    with pytest.raises(InvalidToken):
        ring.unseal("refresh", code)
    client_id = ring.sign("client", {"client_name": "x"})
    with pytest.raises(InvalidToken):
        ring.verify("csrf", client_id)
    # A purpose is sealed or signed, never both, so one subkey never serves AES-GCM and HMAC.
    with pytest.raises(ValueError):
        ring.sign("access", {})
    with pytest.raises(ValueError):
        ring.seal("client", {})


@pytest.mark.parametrize("segment", [0, 2, 3, 4])
def test_tampering_with_any_segment_is_refused(ring: Keyring, segment: int) -> None:
    parts = ring.seal("access", CLAIMS).split(".")
    victim = parts[segment]
    parts[segment] = victim[:5] + ("B" if victim[5] == "A" else "A") + victim[6:]
    with pytest.raises(InvalidToken):
        ring.unseal("access", ".".join(parts))


def test_truncated_and_malformed_tokens_are_refused(ring: Keyring) -> None:
    token = ring.seal("access", CLAIMS)
    bad = [
        token[:-1],
        token[:-20],
        token.rsplit(".", 1)[0],  # four parts
        token + ".x",  # six parts
        token.replace("..", ".AAAA.", 1),  # an encrypted-key part where `dir` has none
        token.replace(".", " .", 1),  # a character outside base64url
        "",
        "not a token",
        "sk_sandbox_demo",
    ]
    for value in bad:
        with pytest.raises(InvalidToken):
            ring.unseal("access", value)
    with pytest.raises(InvalidToken):
        ring.unseal("access", None)  # type: ignore[arg-type]


def test_oversize_token_is_refused_before_decoding(ring: Keyring) -> None:
    huge = ring.seal("access", {**CLAIMS, "pad": "x" * MAX_TOKEN_CHARS})
    assert len(huge) > MAX_TOKEN_CHARS
    with pytest.raises(InvalidToken):
        ring.unseal("access", huge)
    assert not ring.looks_sealed(huge)


def test_headers_other_than_exactly_dir_a256gcm_are_refused(entry: str) -> None:
    """Each token below decrypts fine with the right key: only the decoder's header rules stop it."""
    ring = Keyring.parse(entry)
    kid, secret = secret_of(entry)
    key = subkey(secret, "access")
    payload = json.dumps(CLAIMS).encode()
    assert ring.unseal("access", hand_made({"kid": kid, "enc": "A256GCM", "alg": "dir"}, payload, key)) == CLAIMS
    for header in (
        {"alg": "none", "enc": "A256GCM", "kid": kid},
        {"alg": "dir", "enc": "A128GCM", "kid": kid},
        {"alg": "dir", "enc": "A256GCM", "kid": kid, "zip": "DEF"},
        {"alg": "dir", "enc": "A256GCM", "kid": kid, "crit": ["exp"], "exp": 1},
        {"alg": "dir", "enc": "A256GCM", "kid": "someone-elses"},
        {"alg": "dir", "enc": "A256GCM"},
        {"alg": "dir", "enc": "A256GCM", "kid": [kid]},
    ):
        token = hand_made(header, payload, key)
        assert not ring.looks_sealed(token), header
        with pytest.raises(InvalidToken):
            ring.unseal("access", token)
    with pytest.raises(InvalidToken):  # claims must be a JSON object
        ring.unseal("access", hand_made({"alg": "dir", "enc": "A256GCM", "kid": kid}, b"[1, 2]", key))
    with pytest.raises(InvalidToken):
        ring.unseal("access", hand_made({"alg": "dir", "enc": "A256GCM", "kid": kid}, b"not json", key))


def test_an_independent_jose_library_opens_our_tokens(entry: str) -> None:
    ring = Keyring.parse(entry)
    kid, secret = secret_of(entry)
    token = ring.seal("access", CLAIMS)
    key = OctKey.import_key(subkey(secret, "access"))
    opened = jwe.decrypt_compact(token, key, algorithms=["dir", "A256GCM"])
    assert opened.protected == {"alg": "dir", "enc": "A256GCM", "kid": kid}
    assert json.loads(opened.plaintext) == CLAIMS
    # ...and only with the subkey of the right purpose
    with pytest.raises(DecodeError):
        jwe.decrypt_compact(token, OctKey.import_key(subkey(secret, "refresh")), algorithms=["dir", "A256GCM"])


def test_we_open_tokens_made_by_an_independent_jose_library(entry: str) -> None:
    ring = Keyring.parse(entry)
    kid, secret = secret_of(entry)
    key = OctKey.import_key(subkey(secret, "refresh"))
    for header in ({"alg": "dir", "enc": "A256GCM", "kid": kid}, {"kid": kid, "cty": "JSON", "enc": "A256GCM", "alg": "dir"}):
        token = jwe.encrypt_compact(header, json.dumps(CLAIMS).encode(), key, algorithms=["dir", "A256GCM"])
        assert ring.looks_sealed(token)
        assert ring.unseal("refresh", token) == CLAIMS
    zipped = jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM", "kid": kid, "zip": "DEF"}, json.dumps(CLAIMS).encode(), key,
                                 algorithms=["dir", "A256GCM", "DEF"])
    with pytest.raises(InvalidToken):
        ring.unseal("refresh", zipped)


def test_signed_tokens(ring: Keyring, entry: str) -> None:
    token = ring.sign("csrf", {"n": "abc", "exp": int(time.time()) + 60})
    assert pyjwt.get_unverified_header(token)["kid"] == ring.active_kid
    assert ring.verify("csrf", token)["n"] == "abc"
    # Verifiable with pyjwt and the documented subkey alone.
    kid, secret = secret_of(entry)
    assert pyjwt.decode(token, subkey(secret, "csrf"), algorithms=["HS256"])["n"] == "abc"

    with pytest.raises(ExpiredToken):
        ring.verify("csrf", ring.sign("csrf", {"exp": int(time.time()) - 1}))
    head, body, sig = token.split(".")
    forged_body = b64(json.dumps({"n": "evil", "exp": int(time.time()) + 60}).encode())
    unsigned = pyjwt.encode({"n": "abc"}, key=None, algorithm="none", headers={"kid": ring.active_kid})
    other_kid = pyjwt.encode({"n": "abc"}, subkey(secret, "csrf"), algorithm="HS256", headers={"kid": "elsewhere"})
    for bad in (f"{head}.{forged_body}.{sig}", token[:-2], unsigned, other_kid, "x" * (MAX_TOKEN_CHARS + 1), "a.b.c"):
        with pytest.raises(InvalidToken) as caught:
            ring.verify("csrf", bad)
        assert not isinstance(caught.value, ExpiredToken)


@pytest.mark.parametrize(
    "text, says",
    [
        ("nocolon", "entry 1 must look like kid:base64url-secret"),
        ("a:" + b64(os.urandom(16)), "'a' must be 32 bytes"),
        ("a:***", "'a' is not valid base64url"),
        ("bad kid:" + b64(os.urandom(32)), "'bad kid' must be 1-64 characters"),
        ("a:{s},a:{s}".format(s=b64(os.urandom(32))), "'a' is listed twice"),
        (" , ", "keyring is empty"),
    ],
    # Named by the fault, not the text: the random secrets would give every collection different test ids, and
    # pytest-xdist refuses to run when its workers collect different ids.
    ids=["no-colon", "short-secret", "not-base64url", "bad-kid", "kid-twice", "empty"],
)
def test_bad_key_lists_are_one_line_config_errors_without_the_secret(text: str, says: str) -> None:
    with pytest.raises(KeyringError) as caught:
        Keyring.parse(text)
    message = str(caught.value)
    assert says in message
    for part in text.split(","):
        secret = part.partition(":")[2]
        if len(secret) > 4:
            assert secret not in message


def test_development_key_file_is_created_once_private_and_never_logged(tmp_path, caplog) -> None:
    config = tmp_path / "config.toml"
    config.write_text(DEFAULT_CONFIG.read_text())
    settings = load_settings(config, env={})
    with caplog.at_level(logging.WARNING, logger="gateway.config"):
        ring = load_keyring(settings)
    key_file = tmp_path / ".sealing-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_text().strip().partition(":")[2]
    assert "generated a development sealing key" in caplog.text
    assert secret not in caplog.text
    # A restart (or a second process) reuses the same key, so earlier tokens stay valid.
    token = ring.seal("access", CLAIMS)
    assert load_keyring(load_settings(config, env={})).unseal("access", token) == CLAIMS
    # The environment wins over the file.
    from_env = load_keyring(load_settings(config, env={"STATUSPAL_MCP_SEALING_KEYS": Keyring.generate_secret()}))
    with pytest.raises(InvalidToken):
        from_env.unseal("access", token)


def test_production_without_keys_is_a_config_error(tmp_path) -> None:
    settings = load_settings(DEFAULT_CONFIG, env={})
    production = dataclasses.replace(settings, server=dataclasses.replace(settings.server, production=True), root=tmp_path)
    with pytest.raises(ConfigError, match="SEALING_KEYS"):
        load_keyring(production)
    assert not (tmp_path / ".sealing-key").exists()


def test_repeat_unseals_return_independent_copies(ring: Keyring) -> None:
    token = ring.seal("access", CLAIMS)
    first = ring.unseal("access", token)
    first["k"] = "sk_attacker"
    assert ring.unseal("access", token) == CLAIMS  # the remembered answer is not the caller's object


def test_remembered_tokens_return_independent_copies(ring: Keyring) -> None:
    token = ring.seal("access", CLAIMS)
    signed = ring.sign("mcp-session", {"sub": "k1", "sid": "s1"})
    for _ in range(2):  # the first call remembers, the second answers from memory
        opened, verified = ring.unseal("access", token, remember=True), ring.verify("mcp-session", signed, remember=True)
        assert opened == CLAIMS and verified == {"sub": "k1", "sid": "s1"}
        opened["k"], verified["sub"] = "sk_attacker", "k2"


def test_remembered_signed_tokens_still_expire(entry: str) -> None:
    now = [time.time()]
    ring = Keyring([secret_of(entry)], clock=lambda: now[0])
    token = ring.sign("mcp-session", {"sub": "k1", "sid": "s1", "exp": int(now[0]) + 60})
    assert ring.verify("mcp-session", token, remember=True)["sid"] == "s1"
    now[0] += 59
    assert ring.verify("mcp-session", token, remember=True)["sid"] == "s1"
    now[0] += 1  # expired at `exp` itself, as PyJWT counts it
    with pytest.raises(ExpiredToken):
        ring.verify("mcp-session", token, remember=True)
    # A keyring that never saw the token agrees: remembering changes the cost, not the answer.
    with pytest.raises(ExpiredToken):
        Keyring([secret_of(entry)], clock=lambda: now[0]).verify("mcp-session", token, remember=True)


def test_remembering_is_by_exact_token_text(ring: Keyring) -> None:
    token, signed = ring.seal("access", CLAIMS), ring.sign("mcp-session", {"sid": "s1"})
    ring.unseal("access", token, remember=True)
    ring.verify("mcp-session", signed, remember=True)
    for altered in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token + "\n"):
        with pytest.raises(InvalidToken):
            ring.unseal("access", altered, remember=True)
    with pytest.raises(InvalidToken):
        ring.verify("mcp-session", signed[:-2] + ("AA" if not signed.endswith("AA") else "BB"), remember=True)
    with pytest.raises(InvalidToken):  # remembered for one purpose, not another
        ring.verify("client", signed, remember=True)


def test_routing_shape_check_on_our_own_header(ring: Keyring) -> None:
    header = ring.seal("access", CLAIMS).split(".")[0]
    assert ring.looks_sealed(f"{header}..iv.ct.tag")
    for value in (f"{header}.key.iv.ct.tag", f"{header}..iv.ct", f"{header}..iv.ct.tag.more", header, f"sk_{header}..a.b.c"):
        assert not ring.looks_sealed(value), value
