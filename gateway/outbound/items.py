"""Queue items as the queue creates them: a new item due now, its Message-Id, UTC times.

Shared by the queue (a submission) and the drafts (a draft being sent), which insert items in
their own transactions.
"""

from __future__ import annotations

import datetime as dt
import uuid

from gateway.outbound.models import QUEUED, OutboundItem
from gateway.store import utcnow


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive; everything here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def new_message_id() -> str:
    return f"{uuid.uuid4()}@einvoice-gateway"


def new_item(
    document_id: str,
    tenant: str,
    *,
    receiver: str,
    sender: str = "",
    document_type: str = "",
    process: str = "",
    idempotency_key: str | None = None,
) -> OutboundItem:
    """A queue item due now (for a new document, or a draft being sent)."""
    now = utcnow()
    return OutboundItem(
        document_id=document_id,
        tenant=tenant,
        message_id=new_message_id(),
        idempotency_key=idempotency_key,
        sender=sender,
        receiver=receiver,
        document_type=document_type,
        process=process,
        state=QUEUED,
        attempts=0,
        total_attempts=0,
        next_attempt_at=now,
        queued_at=now,
        created_at=now,
    )
