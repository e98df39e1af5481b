"""What the root wires in: the inbound channels (the transports: :mod:`gateway.transports`).

The app factory builds the channels of every registered kind; a new channel is one line in
:func:`inbound_channels`.
"""

from __future__ import annotations

from gateway.channels import Channel, ChannelContext, ChannelRegistry, StaticChannel, adapters


def rest(ctx: ChannelContext) -> list[Channel]:
    """``POST /v1/documents`` and the document API (always on)."""
    from gateway.api import setup_routes

    setup_routes(ctx.app)
    return [StaticChannel("rest")]


def inbound_channels() -> ChannelRegistry:
    """The inbound channel kinds, in start order; a new channel is one line here."""
    return ChannelRegistry(
        {
            "rest": rest,
            "smtp": adapters.smtp,
            "as4": adapters.as4,
            "folder": adapters.folders,
        }
    )
