"""Random and mutated requests for the gateway, and the one rule every answer must keep: no 5xx, no stack trace,
no hang, no dead process, no ERROR in the log. Shared by tests/test_fuzz.py (a few thousand examples, fixed
seed) and `python -m bench.fuzz` (as many as you like, fresh seed).

The gateway runs as `statuspal-mcp serve` in a child process with the embedded sandbox, exactly as an operator
starts it, so a crash is a dead process and not a failed coroutine. Requests go over raw sockets: the only way
to send a mutated request line, headers that no HTTP client library would write, or bytes that are not JSON.
Every request closes its connection (Connection: close), so one example cannot leave state for the next.

What gets sent, in both protocol eras (the handshake era with its MCP-Protocol-Version header, and 2026-07-28
with the `_meta` envelope and Mcp-Method/Mcp-Name headers):
- every method the server knows, and unknown ones, with params built from what each method takes and then
  mutated (wrong types, extra fields, non-ASCII, huge numbers, deep nesting);
- `tools/call` for every tool the server lists, with arguments built from that tool's own inputSchema, some
  valid, some pushed off it value by value;
- the same messages with random bytes edited into the serialised body or into the HTTP head;
- random bodies and methods on the other routes (/token, /revoke, /register, /authorize, /.well-known/...).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

DEMO_KEY = "sk_sandbox_demo"
MODERN = "2026-07-28"
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
}
METHODS = (
    "initialize", "ping", "logging/setLevel", "server/discover", "tools/list", "tools/call", "resources/list",
    "resources/read", "resources/templates/list", "prompts/list", "prompts/get", "notifications/initialized",
    "notifications/cancelled", "completion/complete", "resources/subscribe",
)
# Not GET /mcp: it opens an event stream that rightly stays open, which a fuzz cannot tell from a hang.
OTHER_ROUTES = (
    "/token", "/revoke", "/register", "/authorize", "/healthz", "/readyz", "/metrics",
    "/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp", "/nope",
)
# An answer must come well inside this (the child is started with a 1 s request deadline).
ANSWER_BOUND_SECONDS = 15.0
START_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


# --- the gateway under test ----------------------------------------------------------------------------------


@dataclass
class FuzzTarget:
    """`statuspal-mcp serve` in a child process, with its stderr (the JSON log) kept in a file."""

    proc: subprocess.Popen[str]
    port: int
    log_path: Path
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    resource_uris: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_problems(self) -> list[str]:
        """Log lines at ERROR or above, or carrying a stack: each is a bug the fuzz found."""
        problems = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                problems.append(line)  # anything but our JSON lines (a raw traceback) is a problem in itself
                continue
            if record.get("level") in ("ERROR", "CRITICAL") or "stack" in record or "Traceback" in line:
                problems.append(line[:2000])
        return problems


@dataclass
class Sent:
    """One request as bytes, and whether its HTTP head was mutated (then the server may close without answering)."""

    raw: bytes
    head_mutated: bool = False
    label: str = ""


@dataclass
class Answer:
    status: int | None
    raw: bytes
    seconds: float


def start_target(workdir: Path, extra_env: dict[str, str] | None = None) -> FuzzTarget:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSPAL_MCP_")}
    env.update({
        "PYTHONUNBUFFERED": "1",
        "STATUSPAL_MCP_SANDBOX_PORT": "0",
        # A request whose declared length was mutated upwards waits for bytes that never come; a short
        # deadline turns that into a quick 408 instead of a slow example.
        "STATUSPAL_MCP_SERVER_REQUEST_TIMEOUT_SECONDS": "1",
        # Thousands of requests a minute from one address and one key: budgets high enough that the requests
        # reach the methods (a 429 would be a fine answer, but would end the fuzz's reach at the door).
        "STATUSPAL_MCP_LIMITS_ADDRESS_REQUESTS": "10000000",
        "STATUSPAL_MCP_LIMITS_PRINCIPAL_REQUESTS": "10000000",
        **(extra_env or {}),
    })
    log_path = workdir / "gateway.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", "0"], cwd=ROOT, env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(log_path, "w"),
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    port = None
    for line in proc.stdout:
        if "MCP URL:" in line:
            port = int(line.rsplit(":", 1)[1].removesuffix("/mcp\n").removesuffix("/mcp"))
        if "Stop with Ctrl-C" in line or time.monotonic() > deadline:
            break
    if port is None or proc.poll() is not None:
        proc.kill()
        raise RuntimeError(f"the gateway did not start:\n{log_path.read_text()[-3000:]}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    target = FuzzTarget(proc=proc, port=port, log_path=log_path)
    _learn(target)
    return target


def stop_target(target: FuzzTarget) -> None:
    target.proc.terminate()
    try:
        target.proc.wait(20)
    except subprocess.TimeoutExpired:
        target.proc.kill()
        target.proc.wait()


def _learn(target: FuzzTarget) -> None:
    """Every tool with its inputSchema, and every resource URI, as the server itself lists them."""
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        result = _json_result(send(target, mcp_request(target.port, {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params})))
        target.tools.update({t["name"]: t["inputSchema"] for t in result["tools"]})
        cursor = result.get("nextCursor")
        if not cursor:
            break
    result = _json_result(send(target, mcp_request(target.port, {"jsonrpc": "2.0", "id": 1, "method": "resources/list"})))
    target.resource_uris = [r["uri"] for r in result["resources"]]
    assert target.tools and target.resource_uris


def _json_result(answer: Answer) -> dict[str, Any]:
    assert answer.status == 200, answer.raw[:500]
    return json.loads(answer.raw.partition(b"\r\n\r\n")[2])["result"]


# --- sending and judging -------------------------------------------------------------------------------------


def send(target: FuzzTarget, sent: Sent) -> Answer:
    started = time.monotonic()
    chunks = []
    with socket.create_connection(("127.0.0.1", target.port), timeout=ANSWER_BOUND_SECONDS) as sock:
        try:
            sock.sendall(sent.raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before a large body is all sent; its answer is still read
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        except TimeoutError:
            raise AssertionError(f"no answer within {ANSWER_BOUND_SECONDS:g}s to {sent.label}: {sent.raw[:300]!r}") from None
    raw = b"".join(chunks)
    status = None
    if raw.startswith(b"HTTP/1."):
        try:
            status = int(raw.split(b" ", 2)[1])
        except ValueError:
            status = None
    return Answer(status=status, raw=raw, seconds=time.monotonic() - started)


def check(target: FuzzTarget, sent: Sent) -> Answer:
    """Send one request and hold its answer to the rule. Raises AssertionError naming what broke."""
    answer = send(target, sent)
    what = f"{sent.label}: {sent.raw[:400]!r}"
    assert target.alive(), f"the gateway died after {what}"
    if answer.status is None:
        # Only a request whose HTTP head was itself mangled may be dropped unanswered (e.g. its first line
        # announced a body it never sent and the deadline closed it). Anything well-formed gets an answer.
        assert sent.head_mutated, f"no HTTP answer to {what}: {answer.raw[:300]!r}"
    else:
        assert answer.status < 500, f"{answer.status} for {what}: {answer.raw[:800]!r}"
    assert b"Traceback" not in answer.raw and b'File "' not in answer.raw, f"a stack trace in the answer to {what}"
    return answer


# --- building requests ---------------------------------------------------------------------------------------


def mcp_request(port: int, message: Any, *, headers: dict[str, str] | None = None, key: str | None = DEMO_KEY,
                body: bytes | None = None, label: str = "") -> Sent:
    if body is None:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    lines = [
        "POST /mcp HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: application/json, text/event-stream",
        "Content-Type: application/json",
    ]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return Sent(raw=_frame(lines, body), label=label or "mcp")


def _frame(head_lines: list[str], body: bytes, head: bytes | None = None) -> bytes:
    head = head if head is not None else "\r\n".join(head_lines).encode("utf-8", "surrogatepass") + b"\r\n"
    return head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body


# Plain JSON values, small but with the awkward cases weighted in: huge and negative numbers, floats at the
# edges, non-ASCII and control characters, empty containers.
json_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "é", "\u202e", "\x00", "🦀" * 3, "a" * 3000, "sk_", "null", "../../etc/passwd", "%00"]),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4),
), max_leaves=12)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=4)


def deep(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


# Shallow, and deep enough to reach Python's recursion limit in anything that walks a value recursively
# (the client's own json.dumps stops near 1,000 levels, so these stay just under it).
nested = st.one_of(st.integers(min_value=1, max_value=70), st.integers(min_value=900, max_value=980)).map(deep)


def from_schema(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that satisfy `schema` (as far as this small reader of JSON Schema goes)."""
    if not isinstance(schema, dict) or depth > 6:
        return json_values
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, depth + 1) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, depth + 1) for k in kind])
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return st.datetimes().map(lambda d: d.isoformat() + "Z")
        if fmt in ("uri", "url"):
            return st.sampled_from(["https://example.com/hook", "http://127.0.0.1:1/x", "https://é.example/☃"])
        if fmt == "email":
            return st.sampled_from(["a@example.com", "é@example.com"])
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 30), 30))
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -5), max_value=schema.get("maximum", 1000))
    if kind == "number":
        return st.floats(min_value=schema.get("minimum"), max_value=schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=3)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = [k for k in schema.get("required", []) if k in properties]
        optional = {k: from_schema(v, depth + 1) for k, v in properties.items() if k not in required}
        return st.fixed_dictionaries({k: from_schema(properties[k], depth + 1) for k in required}, optional=optional)
    return json_values


@st.composite
def arguments_for(draw: st.DrawFn, schema: dict[str, Any]) -> Any:
    """Arguments from the tool's inputSchema, then, most of the time, pushed off it."""
    arguments = draw(from_schema(schema))
    if not isinstance(arguments, dict):
        return arguments
    mutation = draw(st.sampled_from(["none", "none", "retype", "extra", "drop", "deep", "replace"]))
    if mutation == "retype" and arguments:
        name = draw(st.sampled_from(sorted(arguments)))
        arguments[name] = draw(st.one_of(json_values, nested))
    elif mutation == "extra":
        arguments[draw(st.text(max_size=20))] = draw(json_values)
    elif mutation == "drop" and arguments:
        arguments.pop(draw(st.sampled_from(sorted(arguments))))
    elif mutation == "deep":
        arguments[draw(st.text(max_size=8))] = draw(nested)
    elif mutation == "replace":
        return draw(st.one_of(json_values, nested))
    return arguments


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@st.composite
def params_for(draw: st.DrawFn, target: FuzzTarget, method: str) -> Any:
    if method == "tools/call":
        name = draw(st.one_of(st.sampled_from(sorted(target.tools)), st.text(max_size=30)))
        schema = target.tools.get(name, {"type": "object"})
        params: dict[str, Any] = {"name": name, "arguments": draw(arguments_for(schema))}
    elif method in ("tools/list", "resources/list"):
        cursor = draw(st.one_of(st.text(max_size=70), st.text(alphabet=st.characters(min_codepoint=128), min_size=1, max_size=8),
                                st.sampled_from(["", "é", _cursor("tools:1"), _cursor("tools:²"),
                                                                        _cursor("tools:99999"), _cursor("docs:1")]),
                                st.text(max_size=10).map(_cursor), json_values))
        params = draw(st.sampled_from([{}, {"cursor": cursor}]))
    elif method == "resources/read":
        params = {"uri": draw(st.one_of(st.sampled_from(target.resource_uris), st.text(max_size=60), json_values))}
    elif method == "initialize":
        params = {"protocolVersion": draw(st.one_of(st.sampled_from([*HANDSHAKE_VERSIONS, MODERN]), json_values)),
                  "capabilities": draw(json_objects), "clientInfo": draw(st.one_of(st.just({"name": "fuzz", "version": "1"}), json_values))}
    elif method == "logging/setLevel":
        params = {"level": draw(st.one_of(st.sampled_from(["debug", "info", "error"]), json_values))}
    elif method == "prompts/get":
        params = {"name": draw(st.text(max_size=20)), "arguments": draw(json_values)}
    else:
        params = draw(st.sampled_from([{}, {}, None])) or {}
    if draw(st.integers(0, 9)) == 0:
        params = draw(st.one_of(json_values, nested))  # not an object at all, or something odd inside
    elif isinstance(params, dict) and draw(st.integers(0, 5)) == 0:
        params[draw(st.text(max_size=10))] = draw(st.one_of(json_values, nested))
    return params


def _header_safe(value: str) -> str:
    """A header value as the 2026-07-28 spec carries non-ASCII names: =?base64?…?=."""
    if value.isascii() and value.isprintable():
        return value
    return "=?base64?" + base64.b64encode(value.encode("utf-8", "surrogatepass")).decode() + "?="


@st.composite
def mcp_messages(draw: st.DrawFn, target: FuzzTarget) -> Sent:
    """One JSON-RPC message to /mcp in either era. Most are well-formed up to the method, so that the methods'
    own code is reached; the rest have a broken envelope, mismatched headers or edited bytes."""
    method = draw(st.one_of(st.sampled_from(METHODS), st.text(max_size=20)))
    params = draw(params_for(target, method))
    modern = draw(st.booleans())
    sound = draw(st.integers(0, 3)) > 0
    headers: dict[str, str] = {}
    if modern:
        if isinstance(params, dict):
            meta = dict(ENVELOPE)
            if not sound and draw(st.booleans()):
                meta[draw(st.sampled_from(sorted(ENVELOPE)))] = draw(json_values)
            params = {**params, "_meta": meta}
        headers["MCP-Protocol-Version"] = MODERN if sound else draw(st.sampled_from([MODERN, "2025-11-25", "v999", "é"]))
        headers["Mcp-Method"] = method if sound else draw(st.one_of(st.just(method), st.text(max_size=10)))
        routed = params.get("name", params.get("uri")) if isinstance(params, dict) and method in ("tools/call", "resources/read", "prompts/get") else None
        if routed is not None and (sound or draw(st.booleans())):
            headers["Mcp-Name"] = _header_safe(routed) if isinstance(routed, str) else json.dumps(routed, ensure_ascii=True)[:200]
    else:
        version = draw(st.sampled_from([None, *HANDSHAKE_VERSIONS] + ([] if sound else ["1999-01-01", "é"])))
        if version is not None:
            headers["MCP-Protocol-Version"] = version
        if not sound and draw(st.booleans()):
            headers["Mcp-Session-Id"] = draw(st.sampled_from(["x", "a.b.c", "é" * 3, "eyJ" + "A" * 60]))
    message: dict[str, Any] = {"jsonrpc": "2.0" if sound else draw(st.sampled_from(["2.0", "1.0", 2])), "method": method}
    if sound or draw(st.booleans()):
        message["id"] = draw(st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=10)))
    elif draw(st.booleans()):
        message["id"] = draw(json_scalars)
    message["params"] = params
    body = json.dumps(message, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if not sound and draw(st.booleans()):  # bytes edited into the serialised body
        body = draw(mutated_bytes(body, draw(st.integers(1, 4))))
    key = DEMO_KEY if sound else draw(st.sampled_from([DEMO_KEY, None, "sk_unknown_" + "x" * 8]))
    return mcp_request(target.port, message, headers={k: _header_safe(v) for k, v in headers.items()}, key=key,
                       body=body, label=f"{'2026-07-28' if modern else 'handshake'} {method[:40]!r}")


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes, edits: int) -> bytes:
    buffer = bytearray(data)
    for _ in range(edits):
        at = draw(st.integers(0, len(buffer)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(st.binary(min_size=1, max_size=4))
        if kind == "insert":
            buffer[at:at] = chunk
        elif kind == "delete":
            del buffer[at:at + len(chunk)]
        else:
            buffer[at:at + len(chunk)] = chunk
    return bytes(buffer)


@st.composite
def raw_bodies(draw: st.DrawFn, target: FuzzTarget) -> Sent:
    """Bodies that are not what a JSON-RPC client sends: random bytes, deep nesting, giant numbers."""
    body = draw(st.one_of(
        st.binary(max_size=200),
        st.one_of(st.integers(1, 100), st.integers(900, 1100)).map(
            lambda n: b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_status_pages","arguments":{"per_page":'
            + b"[" * n + b"]" * n + b"}}}"),
        st.integers(1, 1100).map(lambda n: b"[" * n + b"]" * n),
        st.sampled_from([b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}', b'{"jsonrpc":"2.0","id":' + b"9" * 400 + b',"method":"ping"}',
                         b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":NaN}}', b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"ping"}',
                         b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\\ud800"}}', b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}']),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    ))
    return mcp_request(target.port, None, body=body, label="raw body")


@st.composite
def mutated_heads(draw: st.DrawFn, target: FuzzTarget) -> Sent:
    """A valid tools/list or tools/call whose request line and headers get random bytes edited in."""
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    body = json.dumps(message).encode()
    lines = [
        draw(st.sampled_from(["POST /mcp HTTP/1.1", "DELETE /mcp HTTP/1.1", "POST /mcp?x=é HTTP/1.0"])),
        f"Host: 127.0.0.1:{target.port}", "Accept: application/json, text/event-stream", "Content-Type: application/json",
        f"Authorization: Bearer {DEMO_KEY}", "MCP-Protocol-Version: 2025-11-25", "X-Request-Id: fuzz-0001",
        f"Origin: http://127.0.0.1:{target.port}",
    ]
    head = "\r\n".join(lines).encode() + b"\r\n"
    head = draw(mutated_bytes(head, draw(st.integers(1, 6))))
    return Sent(raw=_frame([], body, head=head), head_mutated=True, label="mutated head")


@st.composite
def other_routes(draw: st.DrawFn, target: FuzzTarget) -> Sent:
    path = draw(st.sampled_from(OTHER_ROUTES))
    method = draw(st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"]))
    content_type = draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=x", "text/plain"]))
    body = draw(st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(["grant_type", "code", "token", "client_id", "redirect_uri", "code_verifier",
                                         "refresh_token", "response_type", "state", "csrf", "api_key", "access", "é"]),
                        st.text(max_size=40), max_size=8).map(lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode("utf-8", "surrogatepass")),
    ))
    query = draw(st.one_of(st.just(""), st.text(alphabet="abc=&%é?", max_size=30).map(lambda q: "?" + q)))
    lines = [f"{method} {path}{query} HTTP/1.1", f"Host: 127.0.0.1:{target.port}", f"Content-Type: {content_type}",
             f"Origin: {draw(st.sampled_from([f'http://127.0.0.1:{target.port}', 'http://evil.example', 'null']))}"]
    raw = _frame(lines, b"" if method == "HEAD" else body)
    return Sent(raw=raw, label=f"{method} {path}")


def requests(target: FuzzTarget) -> st.SearchStrategy[Sent]:
    """Every kind above, weighted towards the JSON-RPC messages where most of the logic is."""
    return st.one_of(mcp_messages(target), mcp_messages(target), mcp_messages(target), raw_bodies(target),
                     mutated_heads(target), other_routes(target))


def temporary_workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="statuspal-fuzz-") as name:
        yield Path(name)
