"""Outbound: validated documents queued in the database and delivered to the receiver's
access point by static ``[[routes]]`` or Peppol SML/SMP discovery, with retries and leases.

Public surface: the transport plug-in interface exported here (:class:`Transport`,
:class:`Transports`, :class:`TransientError`, :class:`PermanentError`, :class:`DeliveryResult`,
:class:`Endpoint`, :class:`OutboundMessage`); ``gateway.outbound.service.OutboundService``
(submit + worker lifecycle) and ``gateway.outbound.api`` (``setup(app)``),
kept out of this module so importing the interface never pulls in the web server.
"""

from gateway.outbound.errors import DeliveryError, PermanentError, TransientError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage
from gateway.outbound.models import OutboundItem
from gateway.outbound.queue import NotRequeueable
from gateway.outbound.transports import HttpTransport, Transport, Transports

__all__ = [
    "DeliveryError",
    "DeliveryResult",
    "Endpoint",
    "HttpTransport",
    "NotRequeueable",
    "OutboundItem",
    "OutboundMessage",
    "PermanentError",
    "TransientError",
    "Transport",
    "Transports",
]
