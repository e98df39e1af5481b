"""Outbound: validated documents queued in the database and delivered to the receiver's
access point by static ``[[routes]]`` or Peppol SML/SMP discovery, with retries and leases.

Public surface (other packages import these names from here, never the modules behind them;
``tests/web/test_toolkit_face.py`` keeps it so):

- the transport plug-in interface: :class:`Transport`, :class:`Transports`,
  :class:`TransientError`, :class:`PermanentError`, :class:`DeliveryResult`,
  :class:`Endpoint`, :class:`OutboundMessage`;
- the built-in transports: :class:`HttpTransport`, :class:`EmailTransport`,
  :class:`As4Transport` (``as4_transport(settings, db)`` builds it when ``[as4]`` is on,
  ``as4_delivered_to`` says which access point a document went to);
- the service: :class:`OutboundService` (submit + worker lifecycle; refusals
  :class:`SubmissionRefused`, :class:`DuplicateOutbound`), the queue
  (:class:`OutboundQueue`, :class:`OutboundItem` and its
  :class:`OutboundAttempt` rows, :class:`NotRequeueable`),
  :class:`BounceHandler` (DSNs);
- the REST API: :func:`setup`, the app key :data:`OUTBOUND`, :func:`item_dict` (an item as the
  API shows it) and :data:`OUTBOUND_FILTERS`.
"""

from gateway.outbound.api import OUTBOUND, OUTBOUND_FILTERS, item_dict, setup
from gateway.outbound.bounces import BounceHandler
from gateway.outbound.duplicates import DuplicateOutbound
from gateway.outbound.errors import DeliveryError, PermanentError, TransientError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage
from gateway.outbound.models import OutboundAttempt, OutboundItem
from gateway.outbound.queue import NotRequeueable, OutboundQueue
from gateway.outbound.service import OutboundService, SubmissionRefused, Submitted
from gateway.outbound.transports import HttpTransport, Transport, Transports
from gateway.outbound.transports.as4 import As4Transport
from gateway.outbound.transports.as4 import delivered_to as as4_delivered_to
from gateway.outbound.transports.as4 import from_settings as as4_transport
from gateway.outbound.transports.email import EmailTransport

__all__ = [
    "OUTBOUND",
    "OUTBOUND_FILTERS",
    "As4Transport",
    "BounceHandler",
    "DeliveryError",
    "DeliveryResult",
    "DuplicateOutbound",
    "EmailTransport",
    "Endpoint",
    "HttpTransport",
    "NotRequeueable",
    "OutboundAttempt",
    "OutboundItem",
    "OutboundMessage",
    "OutboundQueue",
    "OutboundService",
    "PermanentError",
    "SubmissionRefused",
    "Submitted",
    "TransientError",
    "Transport",
    "Transports",
    "as4_delivered_to",
    "as4_transport",
    "item_dict",
    "setup",
]
