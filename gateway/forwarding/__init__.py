"""Forwarding to tenants: signed webhook events (new originals, status changes, deliveries)
with retries, and a pull inbox of new documents."""

from gateway.forwarding.inbox import acknowledge as inbox_acknowledge
from gateway.forwarding.inbox import page as inbox_page
from gateway.forwarding.signing import SIGNATURE_HEADER, sign, verify
from gateway.forwarding.webhook import EVENT_HEADER, Forwarder, WebhookEvents, mark_forwarded

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "Forwarder",
    "WebhookEvents",
    "inbox_acknowledge",
    "inbox_page",
    "mark_forwarded",
    "sign",
    "verify",
]
