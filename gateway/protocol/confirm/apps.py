"""What a client that renders MCP Apps (`io.modelcontextprotocol/ui`) sees of confirmed tools, and nobody else.

Each confirmed tool is listed with `_meta.ui.resourceUri` naming the publish preview (and ChatGPT's own key
beside it), and without its outputSchema: its first answer is a pending result with no structured content
(nothing was written yet), which a client holding the schema would reject. `publish_draft` is the view's own
tool (`visibility: ["app"]`: hosts keep it from the model); it is listed, because some hosts resolve a view's
tools/call against the list they hold, and it answers only to a client that declared the extension.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from gateway.protocol.argument_errors import describe_all
from gateway.protocol.confirm.drafts import MAX_DRAFT_CHARS
from gateway.protocol.confirm.flow import VIEW_URI
from gateway.tools.base import Tool

PUBLISH_DRAFT_NAME = "publish_draft"
VIEW_MIME = "text/html;profile=mcp-app"
_MAX_TEXT = 10_000

PUBLISH_DRAFT: dict[str, Any] = {
    "name": PUBLISH_DRAFT_NAME,
    "title": "Publish a reviewed draft",
    "description": (
        "Called by the publish preview when the person presses Publish: runs the drafted write with their "
        "corrections (public at once; subscribers messaged if notify), once and while the draft is valid (10 minutes "
        "by default), refused if the target changed since; answers that tool's verified result. Not for the model: "
        "a model calls the write tool itself."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {
            "draft": {"type": "string", "maxLength": MAX_DRAFT_CHARS, "description": "The sealed draft from the preview."},
            "text": {"type": "string", "minLength": 1, "maxLength": _MAX_TEXT, "description": "Replaces the draft's message; omit to keep it."},
            "notify": {"type": "boolean", "description": "Whether subscribers are messaged, as the person chose."},
            "typed_name": {"type": "string", "maxLength": 63, "description": "Only to delete a page: its subdomain as the person typed it."},
        },
        "required": ["draft"],
        "additionalProperties": False,
    },
    "annotations": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True},
    "_meta": {"ui": {"resourceUri": VIEW_URI, "visibility": ["app"]}},
}


def app_definition(tool: Tool) -> dict[str, Any]:
    definition = tool.definition()
    del definition["outputSchema"]
    definition["_meta"] = {"ui": {"resourceUri": VIEW_URI}, "openai/outputTemplate": VIEW_URI}
    return definition


# publish_draft is not in the catalogue, so its arguments are checked here, against its own listed schema, with
# the same wording as every tool's (`gateway.protocol.argument_errors`).
_CHECK = Draft202012Validator(PUBLISH_DRAFT["inputSchema"])


def publish_problem(arguments: Mapping[str, Any]) -> str | None:
    """What is wrong with publish_draft's arguments, in words, or None."""
    errors = list(_CHECK.iter_errors(arguments))
    return describe_all(PUBLISH_DRAFT_NAME, errors, {}) if errors else None
