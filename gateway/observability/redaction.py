"""What a secret looks like, and the two ways of making text safe: for a log line and for an answer.

Secrets are recognised by shape as well as by name, because a key pasted into the wrong field, glued to
other characters or echoed in an upstream error message has no helpful name around it. The shapes are
StatusPal API keys (``sk_…``), webhook signing secrets (``whs_…``) and compact JWS/JWE tokens (a JSON
header, so always ``eyJ…``, then two or four more dot-separated parts: every token this server issues).

A shape is matched with no word boundary before it, because a boundary is exactly what a caller does not
give us: ``/x_sk_…``, ``grant_type=x_sk_…``, ``é sk_…``, a raw request line in a ``b'…'`` repr. Each
character of a shape may also be percent-encoded (also twice: ``%2573``), written as a ``\\x``/``\\u``
escape, as it is when a URL or a bytes repr is quoted, or as an HTML character reference, decimal or hex
(``&#115;&#107;&#95;``, ``&#x73;``, also ``&amp;#115;``), as a form or a page quoted into a log line carries it.
One cost of matching without a boundary: ``sk_`` inside a word (``task_id``) would look like a key, so a shape
glued to a preceding letter or digit needs a longer body (8 characters) than one standing alone; every real key
and secret is far longer than that.
"""

from __future__ import annotations

import functools
import re
from typing import Any

REDACTED = "[REDACTED]"

# Field names whose values are always secret, compared after lower-casing and turning "-" into "_".
SECRET_NAMES = frozenset({
    "key", "api_key", "apikey", "x_api_key", "token", "access_token", "refresh_token", "id_token", "code",
    "code_verifier", "secret", "client_secret", "webhook_secret", "password", "authorization",
    "proxy_authorization", "cookie", "set_cookie", "sealing_keys", "redis_url",
})
_SECRET_SUFFIXES = ("_token", "_secret", "_password")

# The hex codes of the characters a key or token body is made of ([A-Za-z0-9_-]), for their encoded forms.
_BODY_HEX = r"(?:2d|3[0-9]|4[1-9a-f]|5[0-9af]|6[1-9a-f]|7[0-9a])"
# The same characters' decimal codes (45, 48-57, 65-90, 95, 97-122), for decimal character references.
_BODY_DEC = r"(?:45|4[89]|5[0-7]|6[5-9]|[78][0-9]|90|95|9[7-9]|1[01][0-9]|12[0-2])"
# An HTML character reference's opening: "&#", also with the "&" itself escaped ("&amp;#"), any number of times.
_REF = r"&(?:amp;)*#"
_BODY_CHAR = (
    rf"(?:[A-Za-z0-9_\-]|(?i:%(?:25)*{_BODY_HEX}|\\x{_BODY_HEX}|\\u00{_BODY_HEX}|{_REF}x0*{_BODY_HEX};?)|{_REF}0*{_BODY_DEC};?)"
)
# Needed before a shape glued to a preceding letter or digit (plain or encoded) counts as a secret.
_GLUED_MIN_BODY = 8


def _spelled(literal: str) -> str:
    """A pattern for `literal` with each character plain, percent-encoded (any depth), \\x/\\u escaped or an HTML
    character reference (decimal or hex; the ";" is optional, as browsers read it).

    The plain form is matched case-sensitively (keys are "sk_", never "SK_", and TASK_ID is no key); the hex
    digits of the encoded forms in either case."""
    parts = []
    for ch in literal:
        code = f"{ord(ch):02x}"
        parts.append(rf"(?:{re.escape(ch)}|(?i:%(?:25)*{code}|\\x{code}|\\u00{code}|{_REF}x0*{code};?)|{_REF}0*{ord(ch)};?)")
    return "".join(parts)


def _prefixed(prefix: str) -> re.Pattern[str]:
    """`prefix` and a body: any length where it stands apart, _GLUED_MIN_BODY or more where it is glued on."""
    spelled = _spelled(prefix)
    return re.compile(
        rf"(?<![A-Za-z0-9]){spelled}{_BODY_CHAR}+|{spelled}{_BODY_CHAR}{{{_GLUED_MIN_BODY},}}"
    )


_DOT = rf"(?:\.|(?i:%(?:25)*2e|\\x2e|\\u002e|{_REF}x0*2e;?)|{_REF}0*46;?)"
# Compact JWS (three parts) and JWE (five; the second is empty for "dir"). A JSON header starts "eyJ".
_TOKEN = re.compile(
    rf"{_spelled('eyJ')}{_BODY_CHAR}{{4,}}{_DOT}{_BODY_CHAR}*{_DOT}{_BODY_CHAR}*(?:{_DOT}{_BODY_CHAR}*{_DOT}{_BODY_CHAR}*)?"
)
_KEY = _prefixed("sk_")
_WEBHOOK_SECRET = _prefixed("whs_")
_SHAPES = (_KEY, _WEBHOOK_SECRET, _TOKEN)

_NAME_ALTERNATION = "|".join(sorted(
    (re.escape(n) for n in SECRET_NAMES | {"x-api-key", "set-cookie", "proxy-authorization"}), key=len, reverse=True,
))
_NAME_ROOTS = ("key", "token", "code", "secret", "password", "authorization", "cookie", "redis_url")
_ENCODED = ("%", "\\", "&")
# Each pattern with the strings (in the lower-cased text) one of which it cannot match without, and a
# separator it needs (in the text; "" for none). A pattern runs only when both are there: plain `in` tests cost far less than a regex scan, and this runs on
# every string of every log line (and on a search_docs query). Encoded shapes always contain "%" or "\".
_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...], str], ...] = (
    # Authorization schemes, wherever they appear (a header echoed in an error, a curl line).
    (re.compile(r"\b(Bearer|Basic)\s+[^\s\"',;]+", re.IGNORECASE), rf"\1 {REDACTED}", ("bearer", "basic"), ""),
    # name=value in query strings, form bodies and "k=v" log prose.
    (re.compile(rf"(?i)(?<![A-Za-z0-9_])({_NAME_ALTERNATION})=[^&\s\"',;]*"), rf"\1={REDACTED}", _NAME_ROOTS, "="),
    # "name": "value" / 'name': 'value' in JSON or Python reprs embedded in a message.
    (re.compile(rf"(?i)([\"']({_NAME_ALTERNATION})[\"']\s*:\s*)([\"'])(?:\\.|(?!\3).)*\3"), rf"\1\3{REDACTED}\3",
     _NAME_ROOTS, ":"),
    # "Authorization: …" style header lines (a dumped request).
    (re.compile(r"(?im)^(\s*(authorization|proxy-authorization|cookie|set-cookie|x-api-key)\s*:\s*).+$"), rf"\1{REDACTED}",
     ("authorization", "cookie", "x-api-key"), ":"),
    # Tokens before keys: a token glued behind a key prefix ("sk_eyJ…") would otherwise lose only its first
    # part to the key pattern, which stops at the first ".", and the rest of the token would stay readable.
    (_TOKEN, REDACTED, ("eyj", *_ENCODED), ""),
    (_KEY, f"sk_{REDACTED}", ("sk_", *_ENCODED), ""),
    (_WEBHOOK_SECRET, f"whs_{REDACTED}", ("whs_", *_ENCODED), ""),
)
# Every pattern above needs one of these characters (whitespace after "Bearer", "=" or ":" after a name,
# "_" in sk_/whs_ prefixes and in names, "." between token parts, "%", "\" or "&" in an encoded form): text
# without any of them (ids, methods, digests, most paths) is returned after one scan.
_TRIGGER = re.compile(r"[\s=:_.%\\&]")
# What any pattern above needs, in one scan of the lower-cased text: its separator, or for a pattern without one,
# one of its roots. Most text that gets past _TRIGGER (a search query, a sentence) has none of them, and one scan
# costs far less than a substring test for each root of each pattern.
_PATTERN_NEEDS = re.compile("|".join(sorted(
    {re.escape(separator) for _, _, _, separator in _VALUE_PATTERNS if separator}
    | {re.escape(root) for _, _, roots, separator in _VALUE_PATTERNS if not separator for root in roots}
)))


# The non-ASCII letters Python's case-insensitive regexes take for ASCII ones (long s, Kelvin sign, dotted and
# dotless i). The patterns above would match "ſecret=…", so the gates that decide whether a pattern runs must
# read it as "secret" too; lower() alone leaves these letters as they are.
_REGEX_FOLDS = str.maketrans({"\u017f": "s", "\u212a": "k", "\u0130": "i", "\u0131": "i"})


def redact_text(text: str) -> str:
    """Scrub secret-looking substrings from free text: secrets by shape, and the values of secret names."""
    if text.isalnum() or not _TRIGGER.search(text):
        return text
    lowered = text.lower()
    if not lowered.isascii():
        lowered = lowered.translate(_REGEX_FOLDS)
    if not _PATTERN_NEEDS.search(lowered):
        return text
    has = lowered.__contains__
    for pattern, replacement, roots, separator in _VALUE_PATTERNS:
        if separator in text and any(map(has, roots)):
            text = pattern.sub(replacement, text)
    return text


def has_secret_shape(text: str) -> bool:
    """Whether `text` holds something shaped like a key, a webhook secret or a token, anywhere in it."""
    return any(pattern.search(text) for pattern in _SHAPES)


def quotable(value: Any, limit: int = 80) -> str:
    """`value` made safe to quote back in an answer: secret-looking parts replaced, at most `limit` characters.

    An answer goes to whoever sent the request and, for a tool result, into an assistant's context: a key
    quoted there is a key shown to a model and kept in a transcript. Redaction runs on the whole value
    before it is cut, so a cut can never leave a shortened secret that no longer looks like one.
    """
    text = redact_text(value if isinstance(value, str) else str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=1024)  # field names, never values: nothing secret is kept
def is_secret_name(name: str) -> bool:
    norm = name.lower().replace("-", "_")
    return norm in SECRET_NAMES or norm.endswith(_SECRET_SUFFIXES)


def redact_value(value: Any, depth: int = 0) -> Any:
    """Scrub a structured value: secret-named fields are replaced whole, strings are scrubbed by shape."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth > 8:
        return REDACTED  # deep structures are never worth the risk or the time
    if isinstance(value, dict):
        return {
            redact_text(str(k)): (REDACTED if is_secret_name(str(k)) and v not in (None, "") else redact_value(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(v, depth + 1) for v in value]
    if hasattr(value, "items"):  # multidicts (aiohttp headers), mappings
        return redact_value(dict(value.items()), depth)
    return redact_text(str(value))
