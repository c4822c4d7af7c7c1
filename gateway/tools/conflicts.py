"""An ending StatusPal refuses because of where the notice already is: said as what it is, not as bad fields.

Resolving an incident twice, or closing an incident with close_maintenance, comes back from StatusPal as a 422
about a field, which reads "fix the fields above and call the tool again": a model does, and loops. The notice is
read once, only after such a refusal, and the answer says what is true: it has already ended (nothing to do), or
it is of a kind another tool ends (call that one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gateway.statuspal.errors import UpstreamError
from gateway.tools.base import Handler, ToolContext, ToolError
from gateway.tools.notice_checks import Ending

# The tool that ends each kind of notice: fixed by the tools themselves, whatever words StatusPal uses.
ENDED_BY = {"incident": "resolve_incident", "maintenance": "close_maintenance", "info": "close_maintenance"}
# Refusals that can mean "not in a state this call applies to".
_CONFLICT = (409, 422)

Reader = Callable[[ToolContext, Mapping[str, Any]], Callable[[str], Awaitable[Mapping[str, Any]]]]


def explaining_state_conflicts(handler: Handler, ending: Ending, reader: Reader) -> Handler:
    """`handler` (resolve_incident or close_maintenance, ended as `ending` says), whose 409/422 is answered from
    the notice as it stands when the notice is already ended or of another kind; `reader` reads one notice."""

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
        try:
            return await handler(ctx, args)
        except UpstreamError as err:
            if err.status not in _CONFLICT:
                raise
            notice_id = args["notice_id"]
            try:
                data = await reader(ctx, args)(notice_id)
            except UpstreamError:
                raise err from None
            record = ctx.upstream.endpoints.notices.read(data)
            right = ENDED_BY.get(record.notice_type or "")
            if right is not None and right != ending.tool:
                raise ToolError(
                    f"Notice {notice_id!r} is {_article(record.notice_type)} {record.notice_type} notice, which "
                    f"{ending.tool} does not end: call {right} with the same notice_id, message and notify."
                ) from None
            if record.state in ending.states:
                raise ToolError(
                    f"Notice {notice_id!r} is already {record.state}: nothing to do, and calling {ending.tool} again "
                    "changes nothing. To add to its timeline use post_notice_update; for a new problem or window, "
                    "create_incident or schedule_maintenance."
                ) from None
            raise

    return handle


def _article(word: str | None) -> str:
    return "an" if (word or "x")[0] in "aeiou" else "a"
