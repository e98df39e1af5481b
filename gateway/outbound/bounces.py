"""Bounces (RFC 3464 DSNs) that reach our SMTP channel, matched to the mail we sent.

The app factory hands :class:`BounceHandler` to the SMTP channel, which asks it first about
every mail: a delivery-status report is answered here and never reaches the intake. A failed
report whose returned Message-ID is one of ours turns that ``delivered`` item ``failed`` with
the report's reason. Reports are always accepted (``250``), matched or not: refusing a bounce
would make the reporting server bounce the bounce.
"""

from __future__ import annotations

import logging

from gateway.mail import parse_bounce
from gateway.outbound.queue import OutboundQueue

log = logging.getLogger("gateway.outbound.bounces")


class BounceHandler:
    def __init__(self, queue: OutboundQueue) -> None:
        self.queue = queue

    async def __call__(self, raw: bytes) -> str | None:
        """The SMTP reply for a DSN, or None when ``raw`` is not one (the intake takes it)."""
        try:
            bounce = parse_bounce(raw)
        except Exception:  # a malformed report is not a reason to lose the mail: intake decides
            log.warning("email: delivery report could not be parsed", exc_info=True)
            return None
        if bounce is None:
            return None
        if not bounce.failed:
            return "250 2.0.0 delivery report noted (no failure)"
        if not bounce.original_message_id:
            log.warning("email: bounce without the original Message-ID; not matched")
            return "250 2.0.0 bounce noted; it names no Message-ID of ours"
        reason = bounce.reason()
        doc_id = await self.queue.bounce(bounce.original_message_id, reason)
        if doc_id is None:
            log.info("email: bounce for a message that is not ours: %s", bounce.original_message_id)
            return "250 2.0.0 bounce noted; not a message of ours"
        log.info("email: bounce recorded", extra={"document": doc_id, "reason": reason})
        return f"250 2.0.0 bounce recorded for {doc_id}"
