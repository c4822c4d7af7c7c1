"""`[sandbox]` in config.toml: where the local StatusPal listens, how strict it is, and the faults it injects.

Here, beside the sandbox, so the sandbox needs nothing of the gateway's configuration; `gateway.config` reads
the section into these classes.
"""

from __future__ import annotations

from dataclasses import dataclass


class SandboxConfigError(ValueError):
    """A sandbox setting the sandbox cannot run with; the command line prints it as its one-line error."""


@dataclass(frozen=True)
class FaultSettings:
    """The upstream faults the sandbox injects from start-up, off by default.

    Written once here: `[sandbox]` inherits them as settings, and the sandbox's run-time faults
    (`sandbox.faults.Faults`) inherit them too, adding the knobs only a test sets.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    drop_rate: float = 0.0


@dataclass(frozen=True)
class SandboxSettings(FaultSettings):
    embedded: bool = True
    host: str = "127.0.0.1"
    port: int = 8081
    demo_key: str = "sk_sandbox_demo"
    persist_path: str = ""
    # strict: 422 for a body key the endpoint does not take, 404 route_not_found / 405 for unknown routes.
    # lenient: what a Rails server most likely does: unknown keys dropped silently, every unknown route or
    # wrong method a bare {"status": 404, "error": "Not Found"}.
    strictness: str = "strict"


SANDBOX_STRICTNESS = ("strict", "lenient")
