"""Sealed and signed tokens: the only way anything leaves this server carrying a user's API key.

Sealed (``seal``/``unseal``) is a compact JWE, ``alg=dir``, ``enc=A256GCM``, with the key id in the protected
header and that header (its base64url text) as the AEAD's associated data. It is used for authorization codes,
access tokens and refresh tokens, which carry the StatusPal key inside: nobody without our secret can read or
alter them, and the server needs no database to honour them. It is plain RFC 7516, so any JOSE library that is
handed the derived key can open one (a test does exactly that).

Signed (``sign``/``verify``) is an HS256 JWT (pyjwt) for artefacts that hold nothing secret but must not be
forged: the stateless registration ``client_id``, the login form's CSRF token, MCP session ids.

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
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import jwt
import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.config import ENV_PREFIX, ConfigError

if TYPE_CHECKING:
    from gateway.config import Settings

log = logging.getLogger(__name__)

# Purposes whose tokens carry an API key: these are encrypted, never merely signed.
SEALED_PURPOSES = frozenset({"access", "refresh", "code"})
# Anything longer is refused before a single byte is decoded, so a huge header cannot cost us work.
MAX_TOKEN_CHARS = 8192
# Tokens that opened, remembered per keyring (about 1.5 KB each); enough for the access tokens of every active user
# of one instance, bounded so that memory is too.
OPENED_CACHE_ENTRIES = 4096
HKDF_INFO_PREFIX = b"statuspal-mcp/v1/"
DEV_KEY_FILE = ".sealing-key"

_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_B64 = r"[A-Za-z0-9_-]"
# header . (empty encrypted key) . iv . ciphertext . tag: the shape, alphabet and empty key part in one check.
_COMPACT_DIR = re.compile(rf"^({_B64}+)\.\.({_B64}+)\.({_B64}+)\.({_B64}+)$")
_B64_TEXT = re.compile(rf"^{_B64}*$")
_NONCE_BYTES = 12
_TAG_BYTES = 16


class InvalidToken(Exception):
    """The token cannot be used. Deliberately without detail: the reason is never told to the presenter."""


class ExpiredToken(InvalidToken):
    """A signed token whose signature is good but whose ``exp`` has passed (e.g. a login form left open too long)."""


class Keyring:
    """The master secrets by key id; the first one is active (seals and signs), all of them open."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        self._secrets: dict[str, bytes] = {}
        for kid, secret in keys:
            if not _KID.match(kid):
                raise ConfigError(f"sealing key id {kid!r} must be 1-64 characters of A-Z a-z 0-9 . _ -")
            if len(secret) != 32:
                raise ConfigError(f"sealing key {kid!r} must be 32 bytes (base64url); generate one with `statuspal-mcp keygen`")
            if kid in self._secrets:
                raise ConfigError(f"sealing key id {kid!r} is listed twice")
            self._secrets[kid] = secret
        if not self._secrets:
            raise ConfigError("the sealing keyring is empty")
        self.active_kid = next(iter(self._secrets))
        self._aead: dict[tuple[str, str], AESGCM] = {}
        self._hmac: dict[tuple[str, str], bytes] = {}
        # Our own protected headers, encoded once: the hot path recognises them without parsing JSON.
        self._headers: dict[str, str] = {kid: _b64(orjson.dumps({"alg": "dir", "enc": "A256GCM", "kid": kid})) for kid in self._secrets}
        self._header_kids: dict[str, str] = {segment: kid for kid, segment in self._headers.items()}
        # access token -> its claims, for tokens that opened. A client sends the same one on every request;
        # the keyring never changes, so the answer cannot either, and a lookup replaces AES-GCM and JSON parsing.
        # Only successes are kept, so garbage cannot evict live tokens faster than real traffic brings them back.
        self._opened: dict[str, dict[str, Any]] = {}

    # --- construction ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> "Keyring":
        """Parse ``kid:secret[,kid:secret…]``. Errors name the key id, never the secret."""
        keys = []
        for position, item in enumerate(part.strip() for part in text.split(",") if part.strip()):
            kid, sep, encoded = item.partition(":")
            if not sep or not kid or not encoded:
                raise ConfigError(f"{ENV_PREFIX}SEALING_KEYS entry {position + 1} must look like kid:base64url-secret")
            try:
                secret = _unb64(encoded.strip())
            except ValueError:
                raise ConfigError(f"sealing key {kid.strip()!r} is not valid base64url") from None
            keys.append((kid.strip(), secret))
        return cls(keys)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Keyring":
        """The keyring from the environment; in development only, a generated key kept in `.sealing-key`."""
        if settings.secrets.sealing_keys:
            return cls.parse(settings.secrets.sealing_keys)
        if settings.server.production:
            raise ConfigError(f"production mode needs {ENV_PREFIX}SEALING_KEYS (generate one with `statuspal-mcp keygen`)")
        return cls.parse(_dev_key(settings.path(DEV_KEY_FILE)))

    @staticmethod
    def generate_secret() -> str:
        """A new ``kid:secret`` entry: a dated key id (so operators see which key is older) and 32 random bytes."""
        return f"k{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(3)}:{_b64(secrets.token_bytes(32))}"

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    # --- sealed (JWE) --------------------------------------------------------------------------------

    def seal(self, purpose: str, claims: Mapping[str, Any]) -> str:
        """Encrypt `claims` under the active key's subkey for `purpose` (a fresh random 96-bit nonce each time)."""
        aead = self._aead_for(self.active_kid, _sealed(purpose))
        header = self._headers[self.active_kid]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, orjson.dumps(claims), header.encode("ascii"))
        return f"{header}..{_b64(nonce)}.{_b64(sealed[:-_TAG_BYTES])}.{_b64(sealed[-_TAG_BYTES:])}"

    def unseal(self, purpose: str, token: str) -> dict[str, Any]:
        """The claims of a token sealed by us for `purpose`; InvalidToken for anything else, whatever the reason.

        The header is not authenticated until decryption succeeds, so it is only used to choose a key: the
        algorithm must be exactly ours, `zip` and `crit` are refused (no decompression bombs, no extensions we
        would silently ignore), and the key id is looked up in a fixed dictionary, never used to build a path
        or a query.
        """
        purpose = _sealed(purpose)
        opened = self._opened.get(token) if purpose == "access" and isinstance(token, str) else None
        if opened is not None:
            return dict(opened)  # a copy: a caller that edits its claims cannot change the next caller's
        try:
            if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
                raise InvalidToken
            match = _COMPACT_DIR.match(token)
            if match is None:
                raise InvalidToken
            header, nonce, ciphertext, tag = match.groups()
            kid = self._kid_of(header)
            if kid is None:
                raise InvalidToken
            iv = _decode(nonce)
            tag_bytes = _decode(tag)
            if len(iv) != _NONCE_BYTES or len(tag_bytes) != _TAG_BYTES:
                raise InvalidToken
            plain = self._aead_for(kid, purpose).decrypt(iv, _decode(ciphertext) + tag_bytes, header.encode("ascii"))
            claims = orjson.loads(plain)
        except Exception:
            raise InvalidToken from None
        if not isinstance(claims, dict):
            raise InvalidToken
        if purpose == "access":  # codes and refresh tokens are used once: remembering them would only evict
            if len(self._opened) >= OPENED_CACHE_ENTRIES:
                del self._opened[next(iter(self._opened))]  # oldest first
            self._opened[token] = claims
        return dict(claims)

    def looks_sealed(self, value: str) -> bool:
        """Cheap shape test for routing a bearer value: five JWE parts and a header naming one of our keys.
        (`unseal` does the strict checks; this only decides which path a bearer value takes.)"""
        if len(value) > MAX_TOKEN_CHARS:
            return False
        header, _, rest = value.partition(".")
        if header in self._header_kids:  # one of our own headers, byte for byte: the common case
            return rest.startswith(".") and rest.count(".") == 3
        match = _COMPACT_DIR.match(value)
        return match is not None and self._kid_of(match.group(1)) is not None

    def _kid_of(self, header: str) -> str | None:
        """The key id a protected header names, if it is one of ours and the header asks for exactly dir/A256GCM."""
        kid = self._header_kids.get(header)
        if kid is not None:
            return kid
        try:  # a header serialised by another JOSE library: parse it, strictly
            fields = orjson.loads(_decode(header))
        except ValueError:  # binascii.Error and orjson.JSONDecodeError are both ValueErrors
            return None
        if not isinstance(fields, dict) or fields.get("alg") != "dir" or fields.get("enc") != "A256GCM":
            return None
        if "zip" in fields or "crit" in fields:
            return None
        kid = fields.get("kid")
        return kid if isinstance(kid, str) and kid in self._secrets else None

    # --- signed (JWS via pyjwt) ----------------------------------------------------------------------

    def sign(self, purpose: str, claims: Mapping[str, Any]) -> str:
        """An HS256 JWT over `claims` with the active key's subkey for `purpose`; `kid` in the header for rotation."""
        key = self._hmac_for(self.active_kid, _signed(purpose))
        return jwt.encode(dict(claims), key, algorithm="HS256", headers={"kid": self.active_kid})

    def verify(self, purpose: str, token: str) -> dict[str, Any]:
        """The claims of a token we signed for `purpose`. `exp`/`iat`/`nbf` are checked when present (no leeway);
        audience and other bindings are the caller's to check. ExpiredToken when only the time is wrong."""
        purpose = _signed(purpose)
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str) or kid not in self._secrets:
                raise InvalidToken
            claims = jwt.decode(token, self._hmac_for(kid, purpose), algorithms=["HS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError:  # raised only after the signature checked out
            raise ExpiredToken from None
        except Exception:
            raise InvalidToken from None
        return claims

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
    log.warning(
        "no %sSEALING_KEYS set: generated a development sealing key in %s. Tokens issued with it stop working if "
        "that file is deleted; production needs the environment variable.",
        ENV_PREFIX,
        path,
    )
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url without padding: any character outside the alphabet is an error, not skipped."""
    if not _B64_TEXT.match(text):
        raise ValueError("not base64url")
    return _decode(text)


def _decode(segment: str) -> bytes:
    """Decode a segment already known to use only the base64url alphabet (binascii.Error on an impossible length)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
