"""`[confirm]` in config.toml: which tool calls wait for a person's yes."""

from __future__ import annotations

from dataclasses import dataclass

# Every write that reaches the public page or its subscribers at once, every delete, and the secret rotation
# that makes receivers stop verifying. Creating and editing pages, services, regions and webhooks stay with
# the client's own approval: they change nothing a subscriber sees until a notice says so.
DEFAULT_CONFIRMED = (
    "create_incident", "schedule_maintenance", "create_info_notice", "post_notice_update", "update_notice",
    "resolve_incident", "close_maintenance", "delete_notice",
    "delete_status_page", "delete_service", "delete_container", "delete_webhook", "rotate_webhook_secret",
)


@dataclass(frozen=True)
class ConfirmSettings:
    # The tools a person confirms (names from tools/list).
    tools: tuple[str, ...] = DEFAULT_CONFIRMED
    # Confirm every tool that changes data, not only `tools`.
    all_writes: bool = False
    # Leave confirmed tools out for clients that can show neither a preview nor a form, instead of letting them
    # run on the client's own approval.
    hide_unconfirmable: bool = False
    # How long a draft or a form's state stays valid, in seconds.
    draft_ttl_seconds: int = 600
