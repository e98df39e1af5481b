"""The AS4 inbound channel: ``POST /as4`` feeding the intake, MLS answered and applied, the
Peppol reporting rows and the MLS service levels (the protocol itself is :mod:`gateway.as4`).

Public surface: :func:`setup` (mounts the routes; the channel factory
``gateway.channels.adapters.as4`` calls it), :class:`As4Channel`, the app key :data:`AS4`.
"""

from gateway.channels.as4.channel import As4Channel
from gateway.channels.as4.web import AS4, setup

__all__ = ["AS4", "As4Channel", "setup"]
