"""An aiohttp app on a free loopback port, for the small receivers and stubs tests stand up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on 127.0.0.1 (a port the OS picks): its runner (``cleanup()`` stops it)
    and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """:func:`start` for a ``with`` block: yields the base URL, stops the app after."""
    runner, url = await start(app)
    try:
        yield url
    finally:
        await runner.cleanup()
