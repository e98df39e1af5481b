"""Forwarding to tenants: signed webhook events (new originals, status changes, deliveries)
with retries, a pull inbox of new documents, and a test event sent on demand; destinations
that are not public addresses are refused unless allowed (:mod:`gateway.forwarding.destinations`)."""

from gateway.forwarding.destinations import (
    REFUSED_CODE as DESTINATION_REFUSED,
)
from gateway.forwarding.destinations import (
    DestinationRefused,
    GuardedResolver,
    check_destination,
    not_public,
    webhook_session,
)
from gateway.forwarding.events import (
    RECEIVED_EVENT,
    DeliveryFormat,
    Rendered,
    WebhookEvents,
    mark_forwarded,
    subscribed,
)
from gateway.forwarding.inbox import acknowledge as inbox_acknowledge
from gateway.forwarding.inbox import page as inbox_page
from gateway.forwarding.post import EVENT_HEADER, PostResult, post_signed
from gateway.forwarding.probe import TEST_EVENT, send_test_event
from gateway.forwarding.signing import SIGNATURE_HEADER, sign, verify
from gateway.forwarding.webhook import AttemptObserver, Forwarder

__all__ = [
    "DESTINATION_REFUSED",
    "EVENT_HEADER",
    "RECEIVED_EVENT",
    "SIGNATURE_HEADER",
    "TEST_EVENT",
    "AttemptObserver",
    "DeliveryFormat",
    "DestinationRefused",
    "Forwarder",
    "GuardedResolver",
    "PostResult",
    "Rendered",
    "WebhookEvents",
    "check_destination",
    "inbox_acknowledge",
    "inbox_page",
    "mark_forwarded",
    "not_public",
    "post_signed",
    "send_test_event",
    "sign",
    "subscribed",
    "verify",
    "webhook_session",
]
