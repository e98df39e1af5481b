"""A tenant's webhook: set (URL, signing secret, event types), clear, test, redeliver.

The signing secret is returned once, when set (given by the caller or generated: 256 bits);
listings say only whether one is set. ``events`` limits which event types are sent (None:
all of them; the pull inbox always lists new documents). The test sends a signed
``webhook.test`` event now (:func:`gateway.forwarding.send_test_event`) and reports what the
receiver answered. Redelivering copies a delivery into a new pending one (the old one and its
attempts stay as they were), sent by the running server's forwarder.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.errors import Refused, invalid, not_found
from gateway.forwarding import (
    DESTINATION_REFUSED,
    RECEIVED_EVENT,
    TEST_EVENT,
    DestinationRefused,
    check_destination,
    send_test_event,
)
from gateway.lifecycle import STATUS_CHANGED, Lifecycle
from gateway.store import Tenant, WebhookDelivery, repo

#: Events that are not status moves of a model: new originals, unmatched responses.
OTHER_EVENTS = (RECEIVED_EVENT, "response.unmatched")
SCHEMES = ("http://", "https://", "mailto:")
MIN_SECRET, MAX_SECRET = 16, 128


def known_events(lifecycle: Lifecycle) -> list[str]:
    """Every event type the gateway sends: the models' events plus :data:`OTHER_EVENTS`."""
    names = {STATUS_CHANGED, *OTHER_EVENTS}
    for model in lifecycle.models.by_key.values():
        names |= set(model.events.values()) | set(model.initial_events.values())
    return sorted(names)


def webhook_view(row: Tenant) -> dict[str, Any]:
    """The webhook as listings show it: URL, events, whether a secret is set (never which)."""
    return {
        "tenant": row.name,
        "url": row.webhook_url,
        "events": row.webhook_events,
        "secret_set": bool(row.webhook_secret),
    }


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(SCHEMES) or len(url) > 2000:
        raise invalid(
            "invalid-webhook-url",
            "The webhook URL must start with http:// or https:// (or mailto: to forward received "
            "invoices by e-mail through [email_out]) and be at most 2000 characters.",
        )
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise invalid("invalid-webhook-url", "The webhook URL must not contain spaces.")
    return url


async def vet_destination(url: Any, *, allow_private: bool, resolve: bool = True) -> None:
    """Refuse (422 ``webhook-destination-refused``) a webhook URL whose host is, or resolves
    to, a loopback, private, link-local (metadata) or otherwise non-public address, unless the
    operator allows private destinations. Callers resolve *before* opening their write
    transaction (a slow DNS answer must not hold the database); :func:`set_webhook` itself
    checks without resolving, and every send checks again (DNS rebinding)."""
    if allow_private or not isinstance(url, str):
        return
    try:
        await check_destination(url, resolve=resolve)
    except DestinationRefused as exc:
        raise Refused(422, DESTINATION_REFUSED, exc.detail, url=url) from exc


def _check_secret(secret: Any) -> str:
    if secret is None:
        return secrets.token_urlsafe(32)
    if (
        not isinstance(secret, str)
        or not MIN_SECRET <= len(secret) <= MAX_SECRET
        or not secret.isascii()
        or any(c.isspace() or ord(c) < 33 for c in secret)
    ):
        raise invalid(
            "invalid-webhook-secret",
            f"A signing secret is {MIN_SECRET}-{MAX_SECRET} printable ASCII characters without "
            "spaces (leave it out to have one generated).",
        )
    return secret


def _check_events(events: Any, known: Iterable[str]) -> list[str] | None:
    if events is None:
        return None
    allowed = set(known)
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e in allowed for e in events)
    ):
        raise invalid(
            "invalid-webhook-events",
            f"events is a non-empty list among {', '.join(sorted(allowed))} (or absent: all).",
        )
    return sorted(set(events))


async def set_webhook(
    session: AsyncSession,
    tenant: str,
    url: str,
    *,
    known: Sequence[str],
    secret: str | None = None,
    events: Sequence[str] | None = None,
    allow_private: bool = False,
) -> dict[str, Any]:
    """Set the tenant's (created if new) webhook; the answer has the secret, shown this once.
    ``allow_private``: ``[webhooks] allow_private_destinations``."""
    url = _check_url(url)
    await vet_destination(url, allow_private=allow_private, resolve=False)
    chosen = _check_secret(secret)
    wanted = _check_events(events, known)
    row = await repo.ensure_tenant(session, tenant)
    row.webhook_url = url
    row.webhook_secret = chosen
    row.webhook_events = wanted
    return {**webhook_view(row), "secret": chosen}


async def clear_webhook(session: AsyncSession, tenant: str) -> dict[str, Any]:
    """Stop webhook forwarding (the pull inbox stays)."""
    row = await repo.ensure_tenant(session, tenant)
    row.webhook_url = row.webhook_secret = None
    row.webhook_events = None
    return webhook_view(row)


async def probe_webhook(
    db: Any, tenant: str, *, timeout: float, http: Any = None, allow_private: bool = False
) -> dict[str, Any]:
    """Send a signed test event to the tenant's webhook now and report the answer (a
    destination that is no longer allowed, e.g. set before the check existed, is refused)."""
    async with db.read() as s:
        row = await s.get(Tenant, tenant)
        if row is None:
            raise not_found("tenant", tenant)
        url, secret = row.webhook_url, row.webhook_secret or ""
    if not url:
        raise Refused(409, "no-webhook", f"Tenant {tenant} has no webhook; set one first.")
    if url.lower().startswith("mailto:"):
        raise Refused(
            409, "webhook-is-mail", "The forwarding address is mailto:; only webhooks are tested."
        )
    await vet_destination(url, allow_private=allow_private)
    result = await send_test_event(
        url, secret, tenant, timeout=timeout, http=http, allow_private=allow_private
    )
    return {**result, "event": TEST_EVENT}


async def redeliver(
    session: AsyncSession, delivery: int, tenant: str | None = None
) -> dict[str, Any]:
    """Queue delivery ``delivery`` again to the tenant's current webhook (only ``tenant``'s
    when given); returns the new delivery. The caller wakes the forwarder after commit."""
    old = await session.get(WebhookDelivery, delivery)
    if old is None or (tenant is not None and old.tenant != tenant):
        raise not_found("delivery", str(delivery))
    row = await session.get(Tenant, old.tenant)
    if row is None or not row.webhook_url:
        raise Refused(409, "no-webhook", f"Tenant {old.tenant} has no webhook to deliver to.")
    new = WebhookDelivery(
        document_id=old.document_id,
        tenant=old.tenant,
        url=row.webhook_url,
        event=old.event,
        payload=old.payload,
    )
    session.add(new)
    await session.flush()
    return {
        "delivery": new.seq,
        "redelivers": old.seq,
        "tenant": new.tenant,
        "document_id": new.document_id,
        "event": new.event,
        "url": new.url,
        "state": new.state,
    }
