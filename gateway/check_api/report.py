"""What check-api finds: one verdict per endpoint with its evidence, the config lines that would fix what it
could infer, and the report printed as text or JSON, with the exit code it means."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.statuspal.errors import UpstreamError

# Usage problems exit 2 through the command line's ConfigError, like every other start-up problem.
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130

OK, ROUTE_MISSING, IGNORED, LACKS, ERROR, NOT_RUN, SKIPPED = (
    "ok", "route missing", "fields ignored", "answer lacks", "error", "not run", "skipped",
)
# Worse verdicts win when one endpoint is used several times (an incident, a maintenance, an info notice).
_RANK = {SKIPPED: 0, OK: 1, LACKS: 2, IGNORED: 3, NOT_RUN: 4, ERROR: 5, ROUTE_MISSING: 6}


@dataclass
class Row:
    """One endpoint's verdict with its evidence; an endpoint used several times keeps the worst verdict."""

    endpoint: str
    method: str
    path: str
    verdict: str = NOT_RUN
    ignored: list[str] = field(default_factory=list)
    lacking: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    used: bool = False
    # A skip the operator accepted (--skip-page-endpoints): it passes; any other skip leaves this unproven.
    excused: bool = False

    def record(self, verdict: str, evidence: str = "", *, ignored: Sequence[str] = (), lacking: Sequence[str] = ()) -> None:
        if not self.used or _RANK[verdict] > _RANK[self.verdict]:
            self.verdict = verdict
        self.used = True
        self.ignored += [f for f in ignored if f not in self.ignored]
        self.lacking += [f for f in lacking if f not in self.lacking]
        if evidence and evidence not in self.evidence:
            self.evidence.append(evidence)

    @property
    def label(self) -> str:
        """The verdict as printed: `fields ignored: affected, message`, with what the answer lacks beside it."""
        parts = []
        if self.verdict in (IGNORED, LACKS):
            if self.ignored:
                parts.append(f"{IGNORED}: {', '.join(self.ignored)}")
            if self.lacking:
                parts.append(f"{LACKS}: {', '.join(self.lacking)}")
            return "; ".join(parts)
        return self.verdict

    @property
    def passed(self) -> bool:
        return self.verdict == OK or (self.verdict == SKIPPED and self.excused)

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path,
            "verdict": self.verdict,
            "label": self.label,
            "fields_ignored": self.ignored,
            "answer_lacks": self.lacking,
            "evidence": self.evidence,
        }


@dataclass
class Fix:
    """A config line the check can suggest, with the reason (the evidence it rests on)."""

    section: str
    key: str
    value: str
    reason: str
    # True when only the line to edit is known, not its value: printed commented out, with today's value.
    placeholder: bool = False

    @property
    def line(self) -> str:
        return f"{'# ' if self.placeholder else ''}{self.key} = {json.dumps(self.value)}"

    @property
    def env(self) -> str:
        """The same line as an environment override (STATUSPAL_MCP_<SECTION>_<KEY>), quoted for a shell."""
        name = f"STATUSPAL_MCP_{self.section.replace('.', '_')}_{self.key}".upper()
        return f"{'# ' if self.placeholder else ''}{name}={shlex.quote(self.value)}"


@dataclass
class Report:
    base_url: str
    page: str
    created_page: bool
    rows: list[Row]
    fixes: list[Fix]
    notes: list[str]
    deleted: list[str]
    left_behind: list[str]
    interrupted: bool
    # notify: false was sent but no answer said whether subscribers were notified: named, not failed.
    notify_unconfirmed: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.left_behind and all(r.passed for r in self.rows)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_OK if self.ok else EXIT_FAILED

    def as_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "page": self.page,
            "created_page": self.created_page,
            "ok": self.ok,
            "interrupted": self.interrupted,
            "endpoints": [r.as_json() for r in self.rows],
            "config": [{"section": f.section, "line": f.line, "env": f.env, "key": f.key, "value": f.value,
                        "reason": f.reason, "placeholder": f.placeholder} for f in self.fixes],
            "notes": self.notes,
            "notify_unconfirmed": self.notify_unconfirmed,
            "cleanup": {"deleted": self.deleted, "left_behind": self.left_behind},
        }

    def as_text(self) -> str:
        lines = [
            f"statuspal-mcp check-api against {self.base_url}, page {self.page!r}"
            + (" (created for the check)" if self.created_page else ""),
            "",
        ]
        width_name = max(len("endpoint"), *(len(r.endpoint) for r in self.rows))
        width_route = max(len("method and path"), *(len(f"{r.method} {r.path}") for r in self.rows))
        lines.append(f"{'endpoint'.ljust(width_name)} | {'method and path'.ljust(width_route)} | verdict")
        lines.append(f"{'-' * width_name}-+-{'-' * width_route}-+--------")
        for row in self.rows:
            lines.append(f"{row.endpoint.ljust(width_name)} | {f'{row.method} {row.path}'.ljust(width_route)} | {row.label}")
            lines += [f"    {text}" for text in row.evidence]
        if self.fixes:
            lines += ["", "Config lines that would fix what this check could infer (config.toml; re-run check-api after):"]
            for section in dict.fromkeys(f.section for f in self.fixes):
                lines.append(f"[{section}]")
                for fix in (f for f in self.fixes if f.section == section):
                    lines.append(f"{fix.line}  # {fix.reason}")
            lines += ["", "The same as environment overrides:"] + [fix.env for fix in self.fixes]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        lines += ["", f"Cleanup: deleted {', '.join(self.deleted) if self.deleted else 'nothing'}."]
        if self.left_behind:
            lines.append("LEFT BEHIND (delete these by hand): " + "; ".join(self.left_behind))
        failed = [r for r in self.rows if not r.passed]
        if self.interrupted:
            lines.append("Interrupted: the check did not finish.")
        result = "every endpoint is ok" if self.ok else f"{len(failed)} of {len(self.rows)} endpoints are not ok"
        if self.notify_unconfirmed:
            result += (
                "; notify: false is unconfirmed (no answer said whether subscribers were notified, so a misnamed "
                "notify field would look the same)"
            )
        lines.append(f"Result: {result}.")
        return "\n".join(lines)


# ---------------------------------------------------------------- evidence


def excerpt(value: Any, limit: int = 100) -> str:
    """A value as evidence in the report: JSON, secrets hidden, cut short."""
    text = orjson.dumps(_hide_secrets(value)).decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hide_secrets(value: Any) -> Any:
    """Evidence never shows a webhook secret: any key named like one is replaced by a placeholder."""
    if isinstance(value, Mapping):
        return {k: ("(hidden)" if "secret" in str(k).lower() and v else _hide_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(v) for v in value]
    return value


def failure_verdict(err: UpstreamError) -> tuple[str, str]:
    """(verdict, evidence) for a failed call: a route this StatusPal lacks is told apart from other errors."""
    where = f"{err.method} {err.path}".strip()
    if err.route_missing:
        return ROUTE_MISSING, f"{where} answered 404 without StatusPal's record-not-found body: {err.excerpt or '(empty)'!r}"
    status = f"{err.status} {err.code}".strip() if err.status else (err.code or "no answer")
    text = f"{where} answered {status}: {err.message or 'no details'}"
    if err.details:
        text += f" {excerpt(err.details, 300)}"
    return ERROR, text
