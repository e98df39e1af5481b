"""Claims on pending webhook deliveries, so two gateways on one database never both send one.

Why: every process's forwarder polls the pending rows; without a claim, a delivery whose
receiver was slow or that waited out a retry's backoff was POSTed by each process that saw it.
A process claims a delivery before each attempt with one conditional UPDATE (pending, and no
live lease of another owner) that stamps its owner and a lease; only the process whose UPDATE
matched sends. The lease covers one attempt and the backoff after it (renewed before the next
attempt), and is cleared when the delivery ends or is given back at a clean stop. A process
killed with -9 keeps its lease until it runs out; then another process takes the delivery over.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, or_, update

from gateway.config import WebhookSettings
from gateway.owner import owner_id
from gateway.store import Database, WebhookDelivery, utcnow

#: Seconds a lease holds beyond one attempt and its longest backoff: the writes around an
#: attempt on a busy database, and a mail attempt, whose relay has its own timeout
#: (``[email_out] timeout``, 60 s by default, against the webhooks' 15 s).
MARGIN = 60.0


class NotOurs(Exception):
    """The delivery is no longer ours to send: another process holds it, or it has ended."""


def lease_seconds(settings: WebhookSettings) -> float:
    """One attempt (the client's total timeout) and the longest backoff after it (tenacity's
    exponential wait is capped at ``retry_max``, its jitter adds up to ``retry_initial``)."""
    return settings.timeout + settings.retry_max + settings.retry_initial + MARGIN


def claimable(owner: str, now: dt.datetime) -> ColumnElement[bool]:
    """Pending and not held by another owner's live lease (ours may be renewed)."""
    t = WebhookDelivery
    return (t.state == "pending") & or_(
        t.lease_until.is_(None), t.lease_until < now, t.lease_owner == owner
    )


class Claims:
    """This process's claims on webhook deliveries."""

    def __init__(self, db: Database, settings: WebhookSettings, owner: str | None = None) -> None:
        self.db = db
        self.owner = owner or owner_id()
        self.lease = dt.timedelta(seconds=lease_seconds(settings))

    async def take(self, seq: int) -> bool:
        """Claim (or renew our claim on) delivery ``seq``; False if it is no longer pending or
        another process holds it: then we must not send it."""
        now = utcnow()
        stmt = (
            update(WebhookDelivery)
            .where(WebhookDelivery.seq == seq, claimable(self.owner, now))
            .values(lease_owner=self.owner, lease_until=now + self.lease)
        )
        return await self._execute(stmt) == 1

    async def hold(self, seq: int) -> None:
        """:meth:`take` before an attempt; raises :class:`NotOurs` where it must not be sent."""
        if not await self.take(seq):
            raise NotOurs(seq)

    async def give_back(self, seq: int) -> None:
        """Drop our lease on a delivery still pending (a clean stop): the next start, ours or
        another process's, sends it at once instead of after the lease."""
        stmt = (
            update(WebhookDelivery)
            .where(WebhookDelivery.seq == seq, WebhookDelivery.lease_owner == self.owner)
            .values(lease_owner=None, lease_until=None)
        )
        await self._execute(stmt)

    async def _execute(self, stmt: Any) -> int:
        async with self.db.write(on_loop=True) as s:  # one row
            result = await s.execute(stmt.execution_options(synchronize_session=False))
            return int(result.rowcount)  # type: ignore[attr-defined]
