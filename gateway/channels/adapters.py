"""The factories of the built-in inbound channels: SMTP, AS4 and watched folders (REST is the
document API's, wired by ``gateway.server.wiring``)."""

from __future__ import annotations

from gateway.channels.base import Channel, ChannelContext, StaticChannel


class _Smtp:
    name = "smtp"

    def __init__(self, ctx: ChannelContext) -> None:
        from gateway.inbound import SmtpChannel
        from gateway.outbound import BounceHandler

        bounces = BounceHandler(ctx.outbound.queue) if ctx.outbound is not None else None
        self.channel = SmtpChannel(ctx.settings, ctx.intake, bounces=bounces)
        self._running = False

    async def start(self) -> None:
        await self.channel.start()
        self._running = True

    async def stop(self) -> None:
        self._running = False
        await self.channel.stop()

    def health(self) -> str:
        return "ok" if self._running else "stopped"


def smtp(ctx: ChannelContext) -> list[Channel]:
    """The SMTP listener when ``smtp.port`` is set (bounces go to the outbound queue)."""
    return [_Smtp(ctx)] if ctx.settings.smtp.port else []


def as4(ctx: ChannelContext) -> list[Channel]:
    """``POST /as4`` when ``[as4]`` is configured (the protocol library is gateway.as4)."""
    from gateway.channels.as4 import setup as setup_as4

    channel = setup_as4(ctx.app, ctx.outbound)
    return [] if channel is None else [StaticChannel("as4")]


def folders(ctx: ChannelContext) -> list[Channel]:
    """One channel per ``[[folders]]`` entry."""
    from gateway.channels.folder import FolderChannel

    return [FolderChannel(cfg, ctx.db, ctx.intake, ctx.outbound) for cfg in ctx.settings.folders]
