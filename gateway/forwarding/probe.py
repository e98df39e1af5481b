"""The webhook test: send a signed ``webhook.test`` event now and say what the receiver did.

Why a direct POST and not a delivery row: an admin setting up a receiver wants the answer in
the same request (status, error, time), not a row to look up later; nothing about a document
is sent, so nothing needs the delivery history. The body names only the tenant and the time.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

import aiohttp

from gateway.forwarding.destinations import webhook_session
from gateway.forwarding.post import post_signed

TEST_EVENT = "webhook.test"


async def send_test_event(
    url: str,
    secret: str,
    tenant: str,
    *,
    timeout: float,
    http: aiohttp.ClientSession | None = None,
    allow_private: bool = False,
) -> dict[str, Any]:
    """POST a signed test event to ``url``; returns ``{"delivered", "status", "error", ...}``."""
    test_id = f"test-{secrets.token_hex(6)}"
    body = json.dumps(
        {
            "event": TEST_EVENT,
            "delivery": test_id,
            "tenant": tenant,
            "sent_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        }
    ).encode()
    headers = {"X-Gateway-Delivery": test_id}
    own = http is None
    session = http or webhook_session(timeout, allow_private=allow_private)
    try:
        result = await post_signed(
            session,
            url,
            body,
            secret=secret,
            event=TEST_EVENT,
            headers=headers,
            allow_private=allow_private,
        )
    finally:
        if own:
            await session.close()
    return {
        "delivered": result.error is None,
        "status": result.status,
        "error": result.error,
        "duration_ms": round(result.duration_ms, 1),
        "delivery": test_id,
        "url": url,
    }
