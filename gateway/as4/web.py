"""Wiring AS4 into the gateway app: ``POST /as4``, the ``as4`` outbound transport, reporting.

``create_app`` calls :func:`setup` once, after the outbound service exists. Without an
``[as4]`` identity (key, certificate, trust anchors) nothing AS4 is mounted except the
reporting endpoint, so a gateway that only does REST/e-mail is unaffected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

# gateway.server must be imported before gateway.api (their packages import each other).
from gateway.server.appkeys import DB, INTAKE, SETTINGS  # isort: skip
from gateway.api.auth import require
from gateway.api.problems import Problem
from gateway.as4.channel import As4Channel
from gateway.as4.http import as4_handler
from gateway.as4.reporting import export, parse_when, summarise
from gateway.as4.sender import As4Sender
from gateway.as4.transport import As4Transport
from gateway.config import ConfigError

AS4 = web.AppKey("as4", As4Channel)


def configured(as4: Any) -> bool:
    """Whether ``[as4]`` names an identity; half a configuration is an error, not "off"."""
    parts = {"key_file": as4.key_file, "cert_file": as4.cert_file,
             "trust_anchors": as4.trust_anchors}
    if not any(parts.values()):
        return False
    missing = [k for k, v in parts.items() if not v]
    if missing:
        raise ConfigError(f"[as4] is incomplete: set {', '.join(missing)} (or none of them)")
    return True


def setup(app: web.Application, outbound: Any | None = None) -> As4Channel | None:
    """Mount ``POST /as4`` and register the ``as4`` transport when ``[as4]`` is configured."""
    app.router.add_get("/v1/admin/reporting", reporting)
    settings = app[SETTINGS]
    if not configured(settings.as4):
        return None
    channel = As4Channel(settings, app[DB], app[INTAKE], outbound)
    app[AS4] = channel
    if outbound is not None:
        outbound.register_transport(
            As4Transport(
                As4Sender.from_settings(settings), app[DB],
                country=settings.as4.country, mls_type=settings.as4.mls_type,
            )
        )
    app.router.add_post("/as4", as4_handler(channel.receiver))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        yield
        await channel.aclose()

    app.cleanup_ctx.append(lifecycle)
    return channel


async def reporting(request: web.Request) -> web.Response:
    """``GET /v1/admin/reporting?from=&to=[&format=summary]``: this tenant's Peppol rows."""
    principal = require(request, "admin")
    try:
        start = parse_when(request.query.get("from"))
        end = parse_when(request.query.get("to"))
    except ValueError as exc:
        raise Problem(400, "bad-period", f"from/to must be ISO dates or timestamps: {exc}") from exc
    rows = await export(request.app[DB], start, end, tenant=principal.tenant)
    if request.query.get("format") == "summary":
        return web.json_response(summarise(rows))
    return web.json_response({"rows": rows, "count": len(rows)})
