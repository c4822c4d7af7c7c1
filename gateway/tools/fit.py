"""Results that fit a client's window: no tool result carries more than 20 KB of text.

Common clients cap a tool result at about 25k tokens, and some far lower; an answer past the cap reads as a failure,
so a model retries a create that worked and meets "subdomain taken". A result's text is its structured content as
JSON, so its size is known before it is sent, and one that would be larger is made smaller here, saying what it
left out and how to get it:

- a list is cut at a record boundary, with how many records remain and a cursor that resumes after the last one
  shown (`fit_list`, used by every list tool, `all: true` included);
- any other result has its largest arrays shortened, with the number of entries left out of each (`fit_record`),
  a guard every tool passes through (`fitted`). Tools with a better summary of their own (setup_status_page) give
  it before the guard is needed.

Either way the answer gains `cut`, a sentence saying what was left out and how to get it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.tools.base import ToolError
from gateway.tools.cursors import decode_cursor, encode_cursor

# 20 KB of text is about 5k tokens: a fifth of a common 25k-token cap, leaving the model room for the rest.
RESULT_LIMIT = 20 * 1024
# Room kept for the fields that say what was cut (`cut`, `remaining`, `next_cursor`, `omitted`).
_NOTE_ROOM = 600
# Arrays whose newest entries come last and matter most: a notice's timeline is shortened from its start.
_NEWEST_LAST = frozenset({"updates"})


def text_size(result: Any) -> int:
    """Bytes of the text a result is sent as: its compact JSON, exactly as the tool runner serialises it."""
    return len(orjson.dumps(result))


# --- lists ----------------------------------------------------------------------------------------------


def list_cursor_kind(endpoint: str, per_page: int | None, page: int | None) -> str:
    """What a list cursor is bound to: the endpoint, the page size and the page (None for `all: true`), so its
    offset means the same records when the call is repeated with it."""
    return f"{endpoint}.{per_page or 'default'}.{page or 'all'}"


def decode_list_cursor(cursor: str, kind: str) -> int:
    """The offset a cursor resumes at, or a ToolError that says how to get a valid one."""
    offset = decode_cursor(kind, cursor)
    if offset is None:
        raise ToolError(
            "This cursor was not issued for this list with this per_page: pass next_cursor from the previous "
            "answer together with the same arguments that answer was given, or leave cursor out to start over."
        )
    return offset


def fit_list(result: dict[str, Any], *, offset: int, end: int, kind: str) -> dict[str, Any]:
    """`result` (a list answer whose `items` start at `offset` of a span ending at `end`) cut at a record boundary
    to fit RESULT_LIMIT, with `remaining`, `next_cursor` and `cut`, the sentence saying how to get the rest.

    The span is the requested page, or the whole walk for `all: true`. A record too large on its own is shown
    shortened (fit_record) rather than skipped, so a cursor always moves forward.
    """
    items: list[Any] = result["items"]
    if text_size(result) <= RESULT_LIMIT:
        return result
    budget = RESULT_LIMIT - _NOTE_ROOM - text_size({**result, "items": []})
    shown, used = 0, 0
    for item in items:
        used += text_size(item) + 1
        if used > budget:
            break
        shown += 1
    kept = items[:shown] if shown else [fit_record(items[0], limit=max(budget, 1024))]
    shown = len(kept)
    remaining = end - offset - shown
    if remaining <= 0:  # the last record, shortened: its own `cut` says what it leaves out
        return {**result, "items": kept}
    return {
        **result,
        "items": kept,
        "remaining": remaining,
        "next_cursor": encode_cursor(kind, offset + shown),
        "cut": (
            f"Cut to fit {RESULT_LIMIT // 1024} KB after {shown} records; {remaining} more follow. For them, call "
            "again with the same arguments plus `cursor` set to next_cursor."
        ),
    }


# --- any result -----------------------------------------------------------------------------------------


def fit_record(result: Mapping[str, Any], limit: int = RESULT_LIMIT) -> dict[str, Any]:
    """`result` with its largest arrays shortened until it fits `limit`, plus `omitted` (entries left out, by
    field path) and `cut`; unchanged when it already fits. Entries are dropped from an array's end, except
    a timeline's, whose oldest entries go first."""
    if text_size(result) <= limit:
        return dict(result)
    out = copy.deepcopy(dict(result))
    omitted: dict[str, int] = {}
    target = limit - _NOTE_ROOM
    while text_size(out) > target:
        arrays = [(text_size(value), path, value) for path, value in _arrays(out) if value]
        if not arrays:
            break
        size, path, value = max(arrays, key=lambda a: a[0])
        # Drop about as many entries as the excess needs, at least one; the loop rechecks the total.
        excess = text_size(out) - target
        drop = min(len(value), max(1, -(-excess * len(value) // max(size, 1))))
        if path.rsplit(".", 1)[-1] in _NEWEST_LAST:
            del value[:drop]
        else:
            del value[len(value) - drop :]
        omitted[path] = omitted.get(path, 0) + drop
    if omitted:
        left_out = ", ".join(f"{n} of `{p}`" for p, n in omitted.items())
        out["omitted"] = omitted
        out["cut"] = (
            f"Shortened to fit {limit // 1024} KB: left out {left_out} (StatusPal keeps them all). Ask for less, "
            "e.g. one record with its get_ tool or a smaller per_page, to see them."
        )
    return out


def _arrays(value: Any, path: str = "") -> list[tuple[str, list[Any]]]:
    """Every array inside `value`, with its dotted field path (list entries add no path part)."""
    found: list[tuple[str, list[Any]]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _arrays(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        found.append((path, value))
        for child in value:
            found += _arrays(child, path)
    return found
