"""Reading the URL-encoded forms the OAuth endpoints take: /token, /revoke and the login page's POST."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from gateway.web.connections import read_body

FORM_TYPE = "application/x-www-form-urlencoded"


class FormUnreadable(ValueError):
    """The body is not UTF-8, or has more fields than the endpoint ever takes."""


async def read_form(request: web.Request, max_bytes: int, max_fields: int) -> list[tuple[str, str]]:
    """The form's name/value pairs in order, repeats included (each endpoint has its own rule on repeats).

    Bounded in bytes (read no further than `max_bytes`) and in fields, so a hostile body costs at most that.
    Raises FormUnreadable, and `read_body`'s BodyTooLarge, BodyUnreadable and BodyTimeout.
    """
    raw = await read_body(request, max_bytes)
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:  # UnicodeDecodeError is one too
        raise FormUnreadable from None
