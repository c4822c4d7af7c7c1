"""Opaque pagination cursors, shared by `tools/list` and `resources/list`.

A cursor is ``<kind>:<index>`` in unpadded URL-safe base64: opaque enough that clients pass it back rather than
edit it, and carrying its kind so a cursor of one listing is refused by the other.
"""

from __future__ import annotations

import base64
from typing import Any

# Longer than any cursor we issue (a kind and at most nine digits); anything longer is refused unread.
_MAX_LENGTH = 64
_MAX_DIGITS = 9


def encode_cursor(kind: str, index: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{index}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: Any) -> int | None:
    """The index a cursor of `kind` we issued points at, or None for anything else a client may send.

    b64decode refuses a non-ASCII str with a bare ValueError (not binascii.Error), and str.isdigit accepts
    digits like '²' that int() then refuses, so both are ruled out before they can escape as a 500.
    """
    if not isinstance(cursor, str) or len(cursor) > _MAX_LENGTH or not cursor.isascii():
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    if prefix != kind or not number.isascii() or not number.isdigit() or len(number) > _MAX_DIGITS:
        return None
    return int(number)
