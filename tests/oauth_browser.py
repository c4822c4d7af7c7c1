"""Playing the user's browser in the OAuth tests, over real HTTP.

`Browser.authorize(url, key)` does what a person does: opens the authorization URL, reads our login page,
submits the form with their key (as a same-origin browser POST, Origin header included), and follows the
302 to wherever it leads. `Callback` is the client's loopback redirect target (RFC 8252), a real server
on an ephemeral port that records what arrives. `TokenStore` is the in-memory storage the `mcp` client's
OAuthClientProvider needs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

from tests.conftest import bound_socket, serve_app


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    """A redirect URL's query as a dict, asserting every parameter appears once."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), url
    return {k: v[0] for k, v in parsed.items()}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.inputs: list[dict[str, str]] = []
        self.forms: list[dict[str, str]] = []
        self.alerts: list[str] = []
        self._in_alert = 0
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(a)
        if tag == "input":
            self.inputs.append(a)
            if a.get("type") == "hidden":
                self.fields[a["name"]] = a.get("value", "")
        if a.get("role") == "alert":
            self._in_alert += 1
            self._text = []
        elif self._in_alert:
            self._in_alert += 1

    def handle_endtag(self, tag: str) -> None:
        if self._in_alert:
            self._in_alert -= 1
            if not self._in_alert:
                self.alerts.append(" ".join("".join(self._text).split()))

    def handle_data(self, data: str) -> None:
        if self._in_alert:
            self._text.append(data)


@dataclass
class Page:
    """Our login (or error) page as a browser received it."""

    status: int
    headers: Any
    html: str
    fields: dict[str, str]  # the hidden fields of the form
    inputs: list[dict[str, str]]
    forms: list[dict[str, str]]
    alerts: list[str]

    @classmethod
    def parse(cls, status: int, headers: Any, html: str) -> Page:
        parser = _FormParser()
        parser.feed(html)
        return cls(status, headers, html, parser.fields, parser.inputs, parser.forms, parser.alerts)

    @property
    def alert(self) -> str:
        assert len(self.alerts) == 1, self.alerts
        return self.alerts[0]


@dataclass
class Browser:
    """A person with a browser, as far as the gateway can tell: GET the page, POST the form, follow the redirect."""

    http: aiohttp.ClientSession
    origin: str  # the gateway's public origin, sent as Origin on the form POST like any browser does
    visited: list[str] = field(default_factory=list)

    async def open(self, url: str) -> Page:
        self.visited.append(url)
        async with self.http.get(url, allow_redirects=False) as r:
            if r.status == 302:
                return Page(r.status, r.headers, "", {}, [], [], [])
            return Page.parse(r.status, r.headers, await r.text())

    async def submit(self, fields: dict[str, str], key: str | None, access: str = "full", action: str = "allow",
                     headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
        """POST the login form; returns (status, headers, body) without following the redirect."""
        form = dict(fields)
        form["access"] = access
        form["action"] = action
        if key is not None:
            form["key"] = key
        send = {"Origin": self.origin, "Sec-Fetch-Site": "same-origin"}
        send.update(headers or {})
        send = {k: v for k, v in send.items() if v is not None}
        async with self.http.post(f"{self.origin}/authorize", data=form, headers=send, allow_redirects=False) as r:
            return r.status, r.headers, await r.text()

    async def authorize(self, url: str, key: str, access: str = "full") -> str:
        """The whole visit; returns the URL the browser was sent to (it has been followed if it is http)."""
        page = await self.open(url)
        assert page.status == 200, page.html
        status, headers, body = await self.submit(page.fields, key, access)
        assert status == 302, body
        location = headers["Location"]
        self.visited.append(location)
        if location.startswith("http"):
            async with self.http.get(location, allow_redirects=False) as r:
                assert r.status == 200, await r.text()
        return location


@dataclass
class Callback:
    """The client's redirect target: a real loopback server recording each query it receives."""

    url: str
    received: asyncio.Queue

    async def next(self, timeout: float = 30) -> dict[str, str]:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def code_result(self) -> AuthorizationCodeResult:
        q = await self.next()
        assert "code" in q, q
        return AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))


@asynccontextmanager
async def callback_server(path: str = "/callback") -> AsyncIterator[Callback]:
    received: asyncio.Queue = asyncio.Queue()

    async def land(request: web.Request) -> web.Response:
        await received.put(dict(request.query))
        return web.Response(text="You can close this window.")

    app = web.Application()
    app.router.add_get(path, land)
    sock = bound_socket()
    async with serve_app(app, sock) as url:
        yield Callback(url=f"{url}{path}", received=received)


@dataclass
class TokenStore:
    """In-memory TokenStorage for the `mcp` client's OAuthClientProvider."""

    tokens: OAuthToken | None = None
    client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def register(http: aiohttp.ClientSession, base_url: str, redirect_uris: list[str], **metadata: Any) -> dict[str, Any]:
    async with http.post(f"{base_url}/register", json={"redirect_uris": redirect_uris, **metadata}) as r:
        body = await r.json()
        assert r.status == 201, body
        return body


@dataclass
class TlsFiles:
    ca: str  # PEM of the test CA: point SSL_CERT_FILE at it to make the gateway trust the server
    context: Any  # ssl.SSLContext serving a certificate for 127.0.0.1 and localhost


def make_tls(directory) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it (what a real host would have)."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway tests CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = (str(directory / n) for n in ("ca.pem", "server.pem", "server.key"))
    with open(ca_path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return TlsFiles(ca=ca_path, context=context)


@dataclass
class DocumentServer:
    """Serves client metadata documents (CIMD) at chosen paths, counting fetches; https when given TLS."""

    url: str
    documents: dict[str, tuple[int, dict[str, str], bytes]]
    fetches: list[str]

    def publish(self, path: str, document: Any, status: int = 200, headers: dict[str, str] | None = None) -> str:
        import orjson

        body = document if isinstance(document, bytes) else orjson.dumps(document)
        self.documents[path] = (status, {"Content-Type": "application/json", **(headers or {})}, body)
        return f"{self.url}{path}"


@asynccontextmanager
async def document_server(tls: TlsFiles | None = None, delay: float = 0.0) -> AsyncIterator[DocumentServer]:
    documents: dict[str, tuple[int, dict[str, str], bytes]] = {}
    fetches: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        fetches.append(request.path)
        if delay:
            await asyncio.sleep(delay)
        if request.path not in documents:
            return web.Response(status=404)
        status, headers, body = documents[request.path]
        return web.Response(status=status, body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    sock = bound_socket()
    site = web.SockSite(runner, sock, ssl_context=tls.context if tls else None)
    await site.start()
    port = sock.getsockname()[1]
    try:
        yield DocumentServer(url=f"{'https' if tls else 'http'}://127.0.0.1:{port}", documents=documents, fetches=fetches)
    finally:
        await runner.cleanup()
