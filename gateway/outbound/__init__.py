"""Outbound: validated documents queued in the database and delivered to the receiver's
access point by static ``[[routes]]`` or Peppol SML/SMP discovery, with retries and leases.

Public surface: :class:`OutboundService` (submit + worker lifecycle), :func:`setup`
(aiohttp routes), :func:`metrics_lines` (for /metrics), the transport plug-in interface
(:class:`Transport`, :class:`Transports`, :class:`TransientError`, :class:`PermanentError`,
:class:`DeliveryResult`, :class:`Endpoint`, :class:`OutboundMessage`).
"""

from gateway.outbound.errors import DeliveryError, PermanentError, TransientError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage
from gateway.outbound.transports import HttpTransport, Transport, Transports

__all__ = [
    "DeliveryError",
    "DeliveryResult",
    "Endpoint",
    "HttpTransport",
    "OutboundMessage",
    "PermanentError",
    "TransientError",
    "Transport",
    "Transports",
]
