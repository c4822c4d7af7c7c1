"""Sealed and signed tokens: the only way anything leaves this server carrying a user's API key.

Sealed (``seal``/``unseal``) is a compact JWE, ``alg=dir``, ``enc=A256GCM``, with the key id in the protected
header and that header (its base64url text) as the AEAD's associated data. It is used for authorization codes,
access tokens and refresh tokens, which carry the StatusPal key inside: nobody without our secret can read or
alter them, and the server needs no database to honour them. It is plain RFC 7516, so any JOSE library that is
handed the derived key can open one (a test does exactly that).

Signed (``sign``/``verify``) is an HS256 JWT (pyjwt) for artefacts that hold nothing secret but must not be
forged: the stateless registration ``client_id``, the login form's CSRF token, MCP session ids.

Tokens a client presents on every request (access tokens, session ids) can be remembered once they have
opened (``remember=True``): a lookup of the exact token text replaces AES-GCM or HMAC and JSON parsing.
What is remembered vouches for the seal or signature only: `verify` checks ``exp`` again on every call, and
callers of `unseal` check expiry, audience and revocation on every use, cached or not.

Keys: ``STATUSPAL_MCP_SEALING_KEYS`` is ``kid:secret[,kid:secret…]`` with 32-byte base64url secrets. The first
one seals and signs; every listed one opens, so a rotation is "prepend a new key, drop the old one once the
longest token lifetime has passed". Each purpose gets its own subkey by HKDF-SHA256
(``info = b"statuspal-mcp/v1/" + purpose``, no salt), so a refresh token can never be opened as an access token
and a signed ``client_id`` can never pass as a CSRF token, whatever their claims say.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jwt
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)


class KeyringError(ValueError):
    """Sealing keys that cannot make a keyring; the message names the key id, never the secret. Configuration
    turns it into its one-line start-up error."""

# Purposes whose tokens carry an API key: these are encrypted, never merely signed.
SEALED_PURPOSES = frozenset({"access", "refresh", "code", "draft"})
# Anything longer is refused before a single byte is decoded, so a huge header cannot cost us work.
MAX_TOKEN_CHARS = 8192
# Tokens that opened, remembered per keyring and purpose (about 1.5 KB each); enough for the access tokens or
# session ids of every active user of one instance, bounded so that memory is too.
OPENED_CACHE_ENTRIES = 4096
HKDF_INFO_PREFIX = b"statuspal-mcp/v1/"

_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_B64_TEXT = re.compile(r"[A-Za-z0-9_-]*")
_NONCE_BYTES = 12
_TAG_BYTES = 16


class InvalidToken(Exception):
    """The token cannot be used. Deliberately without detail: the reason is never told to the presenter."""


class ExpiredToken(InvalidToken):
    """A signed token whose signature is good but whose ``exp`` has passed (e.g. a login form left open too long)."""


class Keyring:
    """The master secrets by key id; the first one is active (seals and signs), all of them open.

    `clock` (wall-clock seconds, as in ``exp``) is injectable so tests can move time instead of sleeping.
    """

    def __init__(self, keys: Iterable[tuple[str, bytes]], clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._secrets: dict[str, bytes] = {}
        for kid, secret in keys:
            if not _KID.match(kid):
                raise KeyringError(f"sealing key id {kid!r} must be 1-64 characters of A-Z a-z 0-9 . _ -")
            if len(secret) != 32:
                raise KeyringError(f"sealing key {kid!r} must be 32 bytes (base64url); generate one with `statuspal-mcp keygen`")
            if kid in self._secrets:
                raise KeyringError(f"sealing key id {kid!r} is listed twice")
            self._secrets[kid] = secret
        if not self._secrets:
            raise KeyringError("the sealing keyring is empty")
        self.active_kid = next(iter(self._secrets))
        self._aead: dict[tuple[str, str], AESGCM] = {}
        self._hmac: dict[tuple[str, str], bytes] = {}
        # Our own protected headers, encoded once: the hot path recognises them without parsing JSON.
        self._headers: dict[str, str] = {kid: _b64(orjson.dumps({"alg": "dir", "enc": "A256GCM", "kid": kid})) for kid in self._secrets}
        self._header_kids: dict[str, str] = {segment: kid for kid, segment in self._headers.items()}
        self._remembered: dict[str, _Remembered] = {}

    # --- construction ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Parse ``kid:secret[,kid:secret…]``. Errors name the key id, never the secret."""
        keys = []
        for position, item in enumerate(part.strip() for part in text.split(",") if part.strip()):
            kid, sep, encoded = item.partition(":")
            if not sep or not kid or not encoded:
                raise KeyringError(f"STATUSPAL_MCP_SEALING_KEYS entry {position + 1} must look like kid:base64url-secret")
            try:
                secret = _unb64(encoded.strip())
            except ValueError:
                raise KeyringError(f"sealing key {kid.strip()!r} is not valid base64url") from None
            keys.append((kid.strip(), secret))
        return cls(keys)

    @staticmethod
    def generate_secret() -> str:
        """A new ``kid:secret`` entry: a dated key id (so operators see which key is older) and 32 random bytes."""
        return f"k{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(3)}:{_b64(secrets.token_bytes(32))}"

    # --- sealed (JWE) --------------------------------------------------------------------------------

    def seal(self, purpose: str, claims: Mapping[str, Any]) -> str:
        """Encrypt `claims` under the active key's subkey for `purpose` (a fresh random 96-bit nonce each time)."""
        aead = self._aead_for(self.active_kid, _sealed(purpose))
        header = self._headers[self.active_kid]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, orjson.dumps(claims), header.encode("ascii"))
        return f"{header}..{_b64(nonce)}.{_b64(sealed[:-_TAG_BYTES])}.{_b64(sealed[-_TAG_BYTES:])}"

    def unseal(self, purpose: str, token: str, *, remember: bool = False, max_chars: int = MAX_TOKEN_CHARS) -> dict[str, Any]:
        """The claims of a token sealed by us for `purpose`; InvalidToken for anything else, whatever the reason.

        With `remember`, a token that opened once is answered from memory the next time: worth it for access
        tokens, sent on every request; codes and refresh tokens are used once, so remembering them would only evict.
        `max_chars` raises the size refused before any work, for a purpose whose claims carry more (a draft).
        """
        purpose = _sealed(purpose)
        remembered = self._remembered_for(purpose) if remember else None
        if remembered is not None and isinstance(token, str):
            claims = remembered.get(token)
            if claims is not None:
                return claims
        kid, header, nonce, sealed = self._parts(token, max_chars)
        try:
            # The header's base64url text is the associated data, so a header altered in any byte fails here.
            claims = orjson.loads(self._aead_for(kid, purpose).decrypt(nonce, sealed, header.encode("ascii")))
        except (InvalidTag, orjson.JSONDecodeError):
            raise InvalidToken from None
        if not isinstance(claims, dict):
            raise InvalidToken
        if remembered is not None:
            remembered.put(token, claims)
        return claims

    def looks_sealed(self, value: str) -> bool:
        """Cheap shape test for routing a bearer value: five JWE parts and a header naming one of our keys.
        (`unseal` does the strict checks; this only decides which path a bearer value takes.)"""
        if len(value) > MAX_TOKEN_CHARS:
            return False
        parts = value.split(".")
        return len(parts) == 5 and not parts[1] and self._kid_of(parts[0]) is not None

    def _parts(self, token: str, max_chars: int = MAX_TOKEN_CHARS) -> tuple[str, str, bytes, bytes]:
        """Key id, protected header, nonce and ciphertext+tag of a compact JWE in our one shape.

        These are the checks AES-GCM cannot make; it authenticates everything else. The header is not
        authenticated until decryption succeeds, so it is only used to choose a key (see `_kid_of`).
        """
        # Refused before a single byte is decoded, so a huge token cannot cost us work.
        if not isinstance(token, str) or len(token) > max_chars:
            raise InvalidToken
        parts = token.split(".")
        # Compact JWE is exactly five parts; `dir` uses the shared key as is, so the encrypted-key part is empty.
        if len(parts) != 5 or parts[1]:
            raise InvalidToken
        header, _, nonce, ciphertext, tag = parts
        kid = self._kid_of(header)
        if kid is None:
            raise InvalidToken
        try:
            nonce_bytes, ciphertext_bytes, tag_bytes = _unb64(nonce), _unb64(ciphertext), _unb64(tag)
        except ValueError:
            raise InvalidToken from None
        # A256GCM is a 96-bit nonce and a 128-bit tag (RFC 7518); AESGCM would take other nonce sizes, and a tag
        # split anywhere else would let one sealed value travel as several token texts.
        if len(nonce_bytes) != _NONCE_BYTES or len(tag_bytes) != _TAG_BYTES:
            raise InvalidToken
        return kid, header, nonce_bytes, ciphertext_bytes + tag_bytes

    def _kid_of(self, header: str) -> str | None:
        """The key id a protected header names, if it is one of ours and the header asks for exactly dir/A256GCM."""
        kid = self._header_kids.get(header)
        if kid is not None:  # one of our own headers, byte for byte: the common case, no JSON to parse
            return kid
        try:  # a header serialised by another JOSE library: parse it, strictly
            fields = orjson.loads(_unb64(header))
        except ValueError:  # binascii.Error and orjson.JSONDecodeError are both ValueErrors
            return None
        # Exactly our algorithm pair: a header naming `none` or a weaker `enc` never chooses how we decrypt.
        if not isinstance(fields, dict) or fields.get("alg") != "dir" or fields.get("enc") != "A256GCM":
            return None
        # `zip` would have us inflate data of an attacker's choosing; `crit` names extensions we would ignore.
        if "zip" in fields or "crit" in fields:
            return None
        # The key id is looked up in a fixed dictionary, never used to build a path or a query.
        kid = fields.get("kid")
        return kid if isinstance(kid, str) and kid in self._secrets else None

    # --- signed (JWS via pyjwt) ----------------------------------------------------------------------

    def sign(self, purpose: str, claims: Mapping[str, Any]) -> str:
        """An HS256 JWT over `claims` with the active key's subkey for `purpose`; `kid` in the header for rotation."""
        key = self._hmac_for(self.active_kid, _signed(purpose))
        return jwt.encode(dict(claims), key, algorithm="HS256", headers={"kid": self.active_kid})

    def verify(self, purpose: str, token: str, *, remember: bool = False) -> dict[str, Any]:
        """The claims of a token we signed for `purpose`. `exp`/`iat`/`nbf` are checked when present (no leeway);
        audience and other bindings are the caller's to check. ExpiredToken when only the time is wrong.
        With `remember`, a token that verified once skips PyJWT the next time; its expiry is still checked."""
        purpose = _signed(purpose)
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken
        remembered = self._remembered_for(purpose) if remember else None
        claims = remembered.get(token) if remembered is not None else None
        if claims is None:
            claims = self._decode_signed(purpose, token)
            if remembered is not None:
                remembered.put(token, claims)
        # PyJWT checked the times against the wall clock; they are checked again against ours, on every call,
        # because a remembered token ages. `nbf` and `iat` were already in the past, so only `exp` can change.
        if "exp" in claims and int(claims["exp"]) <= self.clock():
            raise ExpiredToken
        return claims

    def _decode_signed(self, purpose: str, token: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str) or kid not in self._secrets:
                raise InvalidToken
            claims: dict[str, Any] = jwt.decode(token, self._hmac_for(kid, purpose), algorithms=["HS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError:  # raised only after the signature checked out
            raise ExpiredToken from None
        except Exception:
            raise InvalidToken from None
        return claims

    def _remembered_for(self, purpose: str) -> _Remembered:
        remembered = self._remembered.get(purpose)
        if remembered is None:
            remembered = self._remembered[purpose] = _Remembered(OPENED_CACHE_ENTRIES)
        return remembered

    # --- subkeys ---------------------------------------------------------------------------------------

    def _aead_for(self, kid: str, purpose: str) -> AESGCM:
        aead = self._aead.get((kid, purpose))
        if aead is None:
            aead = self._aead[(kid, purpose)] = AESGCM(derive_subkey(self._secrets[kid], purpose))
        return aead

    def _hmac_for(self, kid: str, purpose: str) -> bytes:
        key = self._hmac.get((kid, purpose))
        if key is None:
            key = self._hmac[(kid, purpose)] = derive_subkey(self._secrets[kid], purpose)
        return key


class _Remembered:
    """Claims of tokens that opened, by their exact text. The keyring never changes, so what a token opened to
    cannot either; only successes are kept, so garbage cannot evict live tokens faster than real traffic
    brings them back, and the oldest goes first when full.

    A hit proves only that we issued these bytes: callers still check expiry, audience and revocation each time.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._claims: dict[str, dict[str, Any]] = {}

    def get(self, token: str) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        return dict(claims) if claims is not None else None  # a copy: no caller can change the next one's claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if len(self._claims) >= self._capacity:
            del self._claims[next(iter(self._claims))]  # oldest first
        self._claims[token] = dict(claims)  # a copy, so the caller that opened it cannot change it either


def derive_subkey(master: bytes, purpose: str) -> bytes:
    """HKDF-SHA256(master, salt=None, info="statuspal-mcp/v1/<purpose>") → 32 bytes. Documented so other tools can open our tokens."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO_PREFIX + purpose.encode("ascii")).derive(master)


def _sealed(purpose: str) -> str:
    if purpose not in SEALED_PURPOSES:
        raise ValueError(f"{purpose!r} is not a sealed purpose ({', '.join(sorted(SEALED_PURPOSES))})")
    return purpose


def _signed(purpose: str) -> str:
    # A purpose is either sealed or signed, never both, so no subkey ever serves AES-GCM and HMAC at once.
    if purpose in SEALED_PURPOSES or not _PURPOSE.match(purpose):
        raise ValueError(f"{purpose!r} is not a signing purpose")
    return purpose


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url without padding: any character outside the alphabet is an error, not skipped
    (binascii.Error, also a ValueError, on an impossible length)."""
    if not _B64_TEXT.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
