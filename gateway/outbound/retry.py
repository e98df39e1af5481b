"""When to try again: tenacity's exponential backoff with jitter, bounded by attempts and age.

We use tenacity's *wait* strategies rather than its retry loop because our "loop" spans
processes and restarts: the next attempt time is stored in the database, not in a coroutine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential, wait_random

from gateway.config import OutboundSettings
from gateway.outbound.errors import DeliveryError, PermanentError


@dataclass(frozen=True)
class Decision:
    retry: bool
    next_attempt_at: dt.datetime | None
    reason: str


class RetryPolicy:
    def __init__(self, settings: OutboundSettings) -> None:
        self.max_attempts = settings.max_attempts
        self.max_age = dt.timedelta(seconds=settings.max_age)
        self.retry_max = settings.retry_max
        # initial * 2**(n-1), plus up to one ``initial`` of random jitter, capped at retry_max.
        self._wait = wait_exponential(
            multiplier=settings.retry_initial, max=settings.retry_max
        ) + wait_random(0, settings.retry_initial)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = attempt
        return min(float(self._wait(state)), self.retry_max)

    def decide(
        self, error: DeliveryError, attempts: int, queued_at: dt.datetime, now: dt.datetime
    ) -> Decision:
        if isinstance(error, PermanentError):
            return Decision(False, None, str(error))
        if attempts >= self.max_attempts:
            return Decision(False, None, f"gave up after {attempts} attempts; last error: {error}")
        next_at = now + dt.timedelta(seconds=self.delay(attempts))
        if next_at - queued_at > self.max_age:
            age = int((now - queued_at).total_seconds())
            return Decision(False, None, f"gave up after {age} s (max_age); last error: {error}")
        return Decision(True, next_at, str(error))
