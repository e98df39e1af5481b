"""What one delivery attempt's outcome means: the attempt row it is logged as, and the item's
next state (delivered, retrying at the policy's time, or failed). Pure functions: the queue
writes what they return, many outcomes per transaction (:meth:`OutboundQueue.finish`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gateway.outbound.errors import DeliveryError, PermanentError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage
from gateway.outbound.models import DELIVERED, FAILED, RETRYING
from gateway.outbound.retry import RetryPolicy


@dataclass
class Outcome:
    """The result of one attempt, waiting to be written by :meth:`OutboundQueue.finish`."""

    message: OutboundMessage
    owner: str
    started_at: dt.datetime
    duration_ms: float
    endpoint: Endpoint | None = None
    result: DeliveryResult | None = None
    error: DeliveryError | None = None


def attempt_row(o: Outcome) -> dict[str, Any]:
    """The ``outbound_attempts`` row that logs outcome ``o``."""
    err = o.error
    outcome = (
        "delivered"
        if err is None
        else ("permanent" if isinstance(err, PermanentError) else "transient")
    )
    return {
        "document_id": o.message.id,
        "number": o.message.attempt,
        "worker": o.owner,
        "started_at": o.started_at,
        "duration_ms": o.duration_ms,
        "endpoint": o.endpoint.url if o.endpoint else None,
        "transport": o.endpoint.transport if o.endpoint else None,
        "outcome": outcome,
        "status_code": o.result.status if o.result else _status_of(err),
        "error_code": err.code if err else None,
        "error": err.message if err else None,
    }


def next_state(
    policy: RetryPolicy, o: Outcome, attempts: int, queued_at: dt.datetime, now: dt.datetime
) -> tuple[dict[str, Any], str]:
    """The item's new column values and the history's reason, after outcome ``o``."""
    endpoint = o.endpoint.describe() if o.endpoint else None
    if o.error is None:
        return (
            {
                "state": DELIVERED,
                "delivered_at": now,
                "endpoint": endpoint,
                "last_error": None,
                "last_error_code": None,
            },
            f"delivered to {endpoint}",
        )
    decision = policy.decide(o.error, attempts, queued_at, now)
    common = {
        "endpoint": endpoint,
        "last_error": decision.reason,
        "last_error_code": o.error.code,
    }
    if decision.retry:
        assert decision.next_attempt_at is not None
        when = decision.next_attempt_at.isoformat(timespec="seconds")
        return (
            {"state": RETRYING, "next_attempt_at": decision.next_attempt_at, **common},
            f"next attempt at {when}: {decision.reason}",
        )
    return {"state": FAILED, **common}, decision.reason


def _status_of(err: DeliveryError | None) -> int | None:
    if err is None or not err.code.startswith("http-"):
        return None
    try:
        return int(err.code[5:])
    except ValueError:
        return None
