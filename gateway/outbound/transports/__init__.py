"""Transport plug-ins behind one interface (``http`` here; ``as4`` plugs in from gateway.as4)."""

from gateway.outbound.transports.base import Transport, Transports
from gateway.outbound.transports.http import HttpTransport

__all__ = ["HttpTransport", "Transport", "Transports"]
