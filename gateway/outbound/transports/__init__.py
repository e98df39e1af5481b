"""Transport plug-ins behind one interface: ``http`` here, ``email`` and ``as4`` beside it
(adapters of :mod:`gateway.mail` and :mod:`gateway.as4`), registered by :mod:`gateway.transports`."""

from gateway.outbound.transports.base import Transport, Transports
from gateway.outbound.transports.http import HttpTransport

__all__ = ["HttpTransport", "Transport", "Transports"]
