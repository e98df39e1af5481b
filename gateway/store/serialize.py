"""JSON views of stored rows, shared by the API, the webhook payloads and the inbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.store.models import (
    Attachment,
    DeliveryAttempt,
    Document,
    StatusChange,
    WebhookDelivery,
)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes, which are UTC by construction."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def document_summary(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "direction": doc.direction,
        "channel": doc.channel,
        "tenant": doc.tenant,
        "status": doc.status,
        "status_reason": doc.status_reason,
        "duplicate_of": doc.duplicate_of,
        "sha256": doc.sha256,
        "size": doc.size,
        "document_type": doc.doc_type,
        "kind": doc.kind,
        "syntax": doc.syntax,
        "customization_id": doc.customization_id,
        "scenario": doc.scenario,
        "validation_status": doc.validation_status,
        "number": doc.number,
        "issue_date": doc.issue_date,
        "due_date": doc.due_date,
        "seller_id": doc.seller_id,
        "buyer_id": doc.buyer_id,
        "sender_endpoint": doc.sender_endpoint,
        "receiver_endpoint": doc.receiver_endpoint,
        "currency": doc.currency,
        "payable_amount": doc.payable_amount,
        "business_key": doc.business_key,
        "metadata": doc.meta or {},
        "created_at": iso(doc.created_at),
        "updated_at": iso(doc.updated_at),
    }


def history_entry(change: StatusChange) -> dict[str, Any]:
    return {
        "from": change.from_status,
        "to": change.to_status,
        "source": change.source,
        "actor": change.actor,
        "tenant": change.tenant,
        "key_id": change.key_id,
        "reason": change.reason,
        "at": iso(change.at),
    }


def attachment_entry(att: Attachment) -> dict[str, Any]:
    return {
        "filename": att.filename,
        "content_type": att.content_type,
        "size": att.size,
        "sha256": att.sha256,
    }


def delivery_entry(delivery: WebhookDelivery, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.seq,
        "event": delivery.event,
        "url": delivery.url,
        "state": delivery.state,
        "attempts": [
            {
                "number": a.number,
                "at": iso(a.at),
                "http_status": a.http_status,
                "error": a.error,
                "duration_ms": round(a.duration_ms, 1),
            }
            for a in attempts
        ],
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "finished_at": iso(delivery.finished_at),
    }
