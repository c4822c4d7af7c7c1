"""A clock the test moves by hand, for every TTL, expiry and grace window: no test sleeps through one."""

from __future__ import annotations

import time


class Clock:
    """Seconds that pass only when the test says so; starts at the real wall-clock time, so it can stand in for
    `time.time` (token `exp` claims are wall-clock) as well as for `time.monotonic`."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
