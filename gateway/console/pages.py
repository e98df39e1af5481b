"""The console's other pages (duplicates, outbound, responses, AS4, tenants, system, API)."""

from __future__ import annotations

from aiohttp import web


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the pages of this module on the console's router."""
