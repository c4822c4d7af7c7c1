"""Fault injection for the sandbox's API routes: latency, 5xx, 429 with Retry-After, dropped connections.

Faults are off by default. They come from the `[sandbox]` config section at start and can be replaced at
any time through `POST /_sandbox/faults`. Each rate is a probability per request; 1.0 means every
request and 0.0 none, so tests can be exact, and `seed` makes the rates in between repeatable.
`only` narrows the faults to some requests: entries are endpoint names (`notices_create`),
`"METHOD /path-prefix"` (`"POST /status_pages"`, `"* /outgoing_webhooks"`) or a bare `/path-prefix`;
prefixes are matched against the path below `/api/v1`, or the full path when they start with it.

Every fault acts before the request reaches its handler, so a faulted request never changes data: the
client under test still cannot tell whether a dropped POST was applied, which is what it must handle.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from sandbox.settings import FaultSettings

API_ROOT = "/api/v1"


@dataclass(frozen=True)
class Faults(FaultSettings):
    """The configured faults plus what only a test sets at run time: which requests, and a fixed seed."""

    only: tuple[str, ...] = ()
    seed: int | None = None

    @classmethod
    def from_settings(cls, settings: FaultSettings) -> Faults:
        """The faults `[sandbox]` configures, for every request and unseeded."""
        configured = {f.name: getattr(settings, f.name) for f in fields(FaultSettings)}
        return cls(**configured).checked(())

    @classmethod
    def from_json(cls, raw: Any, endpoint_names: Iterable[str]) -> Faults:
        """Build from an admin request body; raises ValueError with a message naming the bad field."""
        if not isinstance(raw, dict):
            raise ValueError("the body must be a JSON object")
        known = {f.name for f in fields(cls)}
        extra = sorted(set(raw) - known)
        if extra:
            raise ValueError(f"unknown fault setting(s): {', '.join(extra)} (known: {', '.join(sorted(known))})")
        values = dict(raw)
        for name in ("latency_ms", "error_status", "retry_after_seconds"):
            if name in values and (isinstance(values[name], bool) or not isinstance(values[name], int)):
                raise ValueError(f"{name} must be an integer")
        for name in ("error_rate", "rate_limit_rate", "drop_rate"):
            if name in values and (isinstance(values[name], bool) or not isinstance(values[name], (int, float))):
                raise ValueError(f"{name} must be a number between 0 and 1")
        if "seed" in values and values["seed"] is not None and not isinstance(values["seed"], int):
            raise ValueError("seed must be an integer or null")
        only = values.get("only", [])
        if not isinstance(only, list) or not all(isinstance(o, str) and o.strip() for o in only):
            raise ValueError("only must be a list of endpoint names or 'METHOD /path-prefix' strings")
        values["only"] = tuple(o.strip() for o in only)
        return cls(**values).checked(endpoint_names)

    def checked(self, endpoint_names: Iterable[str]) -> Faults:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        for name in ("error_rate", "rate_limit_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        # 403 stands for a key StatusPal has disabled or restricted; everything else injected is a server fault.
        if not (500 <= self.error_status <= 599 or self.error_status == 403):
            raise ValueError("error_status must be 403 or a 5xx status")
        if self.retry_after_seconds < 0:
            raise ValueError("retry_after_seconds must be >= 0")
        names = set(endpoint_names)
        for target in self.only:
            if " " not in target and not target.startswith("/") and target not in names:
                raise ValueError(f"only: {target!r} is neither an endpoint name nor 'METHOD /path-prefix'")
        return self

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["only"] = list(self.only)
        return data

    def targets(self, method: str, path: str, endpoint: str | None) -> bool:
        if not self.only:
            return True
        relative = path[len(API_ROOT) :] if path.startswith(API_ROOT) else path
        for target in self.only:
            want_method, _, prefix = target.rpartition(" ") if " " in target else ("*", "", target)
            if not prefix.startswith("/"):
                if target == endpoint:
                    return True
                continue
            if want_method.strip().upper() not in ("*", method):
                continue
            if relative.startswith(prefix) or path.startswith(prefix):
                return True
        return False


@dataclass(frozen=True)
class Decision:
    latency_seconds: float = 0.0
    # None (answer normally), "drop", "rate_limit" or "error"
    action: str | None = None


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self.set(faults)

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)

    def _hit(self, rate: float) -> bool:
        # random() is in [0, 1): a rate of 1.0 always hits and 0.0 never does.
        return rate > 0 and self._rng.random() < rate

    def decide(self, method: str, path: str, endpoint: str | None) -> Decision:
        f = self.faults
        if not f.targets(method, path, endpoint):
            return Decision()
        action = None
        if self._hit(f.drop_rate):
            action = "drop"
        elif self._hit(f.rate_limit_rate):
            action = "rate_limit"
        elif self._hit(f.error_rate):
            action = "error"
        return Decision(latency_seconds=f.latency_ms / 1000, action=action)
