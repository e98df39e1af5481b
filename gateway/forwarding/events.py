"""Webhook events as rows: what an event is, who takes it, and writing it in the caller's
transaction.

The lifecycle calls :meth:`WebhookEvents.emit` for its events (``document.status_changed``,
``document.duplicate``, ``outbound.delivered``, ...) in the transaction of the move, and intake
calls :meth:`~gateway.forwarding.webhook.Forwarder.enqueue` (``document.received``) in the one
that stores an original, so no event is lost between "written" and "queued". A process without
a running :class:`~gateway.forwarding.webhook.Forwarder` (``gateway outbound run``) uses
:class:`WebhookEvents` alone; whichever gateway serves webhooks delivers the rows. Events in
another API's format (the AFNOR Flow API's callbacks) are :class:`Rendered` by a
:data:`DeliveryFormat` and go through the same rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import FORWARDED, RECEIVED, Cause, Lifecycle
from gateway.store import Document, Tenant, WebhookDelivery

RECEIVED_EVENT = "document.received"


@dataclass(frozen=True)
class Rendered:
    """An event in another API's format: its body, and headers made fresh for each attempt
    (a timestamped signature)."""

    body: bytes
    headers: Callable[[bytes], dict[str, str]]


#: ``render(session, delivery)``: the event as another API sends it (e.g. the AFNOR Flow API's
#: signed callbacks), or None when it can no longer be sent (its subscription was deleted).
DeliveryFormat = Callable[[AsyncSession, WebhookDelivery], Awaitable[Rendered | None]]


def subscribed(tenant: Tenant | None, event: str) -> bool:
    """Whether ``tenant`` has a webhook that takes ``event`` (no event list = every event)."""
    if tenant is None or not tenant.webhook_url:
        return False
    return tenant.webhook_events is None or event in tenant.webhook_events


def is_mail(url: str) -> bool:
    """A ``mailto:`` forwarding address: received invoices go there by e-mail (XML + PDF)."""
    return url.lower().startswith("mailto:")


async def mark_forwarded(
    lifecycle: Lifecycle,
    session: AsyncSession,
    doc: Document,
    cause: Cause,
) -> None:
    """received -> forwarded; later workflow statuses are never moved back."""
    if doc.status == RECEIVED:
        await lifecycle.move(session, doc, FORWARDED, cause)


class WebhookEvents:
    """Writes webhook events as delivery rows in the caller's transaction (the lifecycle's
    event sink). A process without a running :class:`Forwarder` (``gateway outbound run``)
    uses this alone: the rows are delivered by whichever gateway serves webhooks."""

    _work = False

    async def emit(
        self, session: AsyncSession, *, document_id: str, tenant: str, event: str, data: Any
    ) -> None:
        row = await session.get(Tenant, tenant)
        if row is not None and subscribed(row, event) and not is_mail(row.webhook_url or ""):
            self._work = True
            session.add(
                WebhookDelivery(
                    document_id=document_id,
                    tenant=tenant,
                    url=row.webhook_url,
                    event=event,
                    payload=data,
                )
            )
