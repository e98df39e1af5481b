"""MLS service levels of the Peppol Network Policy, measured from what the gateway stores.

- **Sending** (we are C3): the MLS for a received message must be sent within 20 minutes
  (99.5%). Measured from the receipt of the message (``as4_mls_outbox.created_at``: the owed
  MLS is written in the receipt's transaction) to the verified AS4 receipt of the MLS we queued
  for it (``as4_outbound.delivered_at`` of the queue item whose idempotency key is
  ``mls:<sender>|<InstanceIdentifier>``, as :class:`~gateway.as4.MlsResponder` queues it). An
  owed MLS not queued yet (a crash before it was) counts as waiting; one the SBDH did not ask
  for (``skipped``) does not count.
- **Receiving** (we are C2): the MLS for a message we sent must reach us within 25 minutes.
  Measured from our verified receipt (``as4_outbound.delivered_at``) to the first status change
  an MLS made on the document (``status_history.source = 'mls'``).

Per UTC day: how many, how many within the limit, the share; and the messages still waiting
(an MLS queued but not delivered; a sent document that has not had its MLS), oldest first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, literal, select

from gateway.as4 import As4MlsOutbox, As4Outbound
from gateway.lifecycle import SOURCE_MLS
from gateway.outbound import OutboundItem
from gateway.store import Database, StatusChange

SEND_WITHIN = dt.timedelta(minutes=20)
RECEIVE_WITHIN = dt.timedelta(minutes=25)
#: The Network Policy's target share for both.
TARGET = 0.995
MAX_WAITING = 200


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _per_day(pairs: list[tuple[dt.datetime, dt.datetime | None]], limit: dt.timedelta) -> list[Any]:
    days: defaultdict[dt.date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for start, end in pairs:
        day = days[start.date()]
        day[0] += 1
        if end is not None:
            day[1] += 1
            day[2] += end - start <= limit
    return [
        {
            "day": day.isoformat(),
            "messages": total,
            "done": done,
            "within": within,
            "share": round(within / total, 4) if total else None,
            "meets_target": total == 0 or within / total >= TARGET,
        }
        for day, (total, done, within) in sorted(days.items())
    ]


async def service_levels(
    db: Database, since: dt.datetime, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Both service levels for messages exchanged since ``since``."""
    now = now or dt.datetime.now(dt.UTC)
    m, item, out = As4MlsOutbox, OutboundItem, As4Outbound
    sent_stmt = (
        select(m.message_id, m.created_at, item.state, out.delivered_at)
        .outerjoin(item, item.idempotency_key == literal("mls:") + m.key)
        .outerjoin(out, out.document_id == item.document_id)
        .where(m.created_at >= since, m.state != "skipped")
        .order_by(m.created_at)
    )
    first_mls = (
        select(StatusChange.document_id, func.min(StatusChange.at).label("at"))
        .where(StatusChange.source == SOURCE_MLS)
        .group_by(StatusChange.document_id)
        .subquery()
    )
    received_stmt = (
        select(out.document_id, out.message_id, out.delivered_at, first_mls.c.at)
        .join(item, item.document_id == out.document_id)
        .outerjoin(first_mls, first_mls.c.document_id == out.document_id)
        .where(out.delivered_at >= since, ~item.document_type.contains("mls"))
        .order_by(out.delivered_at)
    )
    async with db.read() as s:
        sent_rows = (await s.execute(sent_stmt)).all()
        received_rows = (await s.execute(received_stmt)).all()
    sent = [(_aware(r.created_at), _aware(r.delivered_at)) for r in sent_rows]
    received = [(_aware(r.delivered_at), _aware(r.at)) for r in received_rows]
    return {
        "send_within_minutes": SEND_WITHIN.total_seconds() / 60,
        "receive_within_minutes": RECEIVE_WITHIN.total_seconds() / 60,
        "target": TARGET,
        "sent": _per_day(sent, SEND_WITHIN),  # type: ignore[arg-type]
        "received": _per_day(received, RECEIVE_WITHIN),  # type: ignore[arg-type]
        "waiting_to_send": [
            {
                "message_id": r.message_id,
                "received_at": _aware(r.created_at).isoformat(),  # type: ignore[union-attr]
                "queue_state": r.state or "not queued",
                "minutes": round((now - _aware(r.created_at)).total_seconds() / 60, 1),  # type: ignore[operator]
            }
            for r in sent_rows
            if r.delivered_at is None
        ][:MAX_WAITING],
        "waiting_to_receive": [
            {
                "document_id": r.document_id,
                "message_id": r.message_id,
                "delivered_at": _aware(r.delivered_at).isoformat(),  # type: ignore[union-attr]
                "minutes": round((now - _aware(r.delivered_at)).total_seconds() / 60, 1),  # type: ignore[operator]
            }
            for r in received_rows
            if r.at is None
        ][:MAX_WAITING],
    }
