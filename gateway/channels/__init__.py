"""Inbound channels as plug-ins: one small protocol, a registry the root fills, the adapters.

Public surface:
- :class:`Channel` (``name``, ``start``, ``stop``, ``health``), :class:`ChannelContext`,
  :data:`ChannelFactory`, :class:`ChannelRegistry`, :class:`StaticChannel`;
- the built-in factories in :mod:`gateway.channels.adapters` (``smtp``, ``as4``,
  ``folders``; REST in ``gateway.server.wiring``), registered there; the folder channel in
  :mod:`gateway.channels.folder`;
- :data:`AS4`, the app key of the running AS4 channel, and :class:`As4Channel` itself (lazy).
"""

from gateway.channels import adapters
from gateway.channels.base import (
    Channel,
    ChannelContext,
    ChannelFactory,
    ChannelRegistry,
    StaticChannel,
)
from gateway.lazy import lazy

__all__ = [
    "AS4",
    "As4Channel",
    "Channel",
    "ChannelContext",
    "ChannelFactory",
    "ChannelRegistry",
    "StaticChannel",
    "adapters",
]


# The AS4 channel loads the web toolkit and the AS4 library: only when a server mounts it.
__getattr__ = lazy(__name__, {"AS4": "gateway.channels.as4", "As4Channel": "gateway.channels.as4"})
