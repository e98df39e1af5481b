"""Inbound channels as plug-ins: one small protocol, a registry the root fills, the adapters.

Public surface:
- :class:`Channel` (``name``, ``start``, ``stop``, ``health``), :class:`ChannelContext`,
  :data:`ChannelFactory`, :class:`ChannelRegistry`, :class:`StaticChannel`;
- the built-in factories in :mod:`gateway.channels.adapters` (``smtp``, ``as4``,
  ``folders``; REST in ``gateway.server.wiring``), registered there; the folder channel in
  :mod:`gateway.channels.folder`.
"""

from gateway.channels import adapters
from gateway.channels.base import (
    Channel,
    ChannelContext,
    ChannelFactory,
    ChannelRegistry,
    StaticChannel,
)

__all__ = [
    "Channel",
    "ChannelContext",
    "ChannelFactory",
    "ChannelRegistry",
    "StaticChannel",
    "adapters",
]
