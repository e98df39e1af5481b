"""Wiring AS4 into the gateway app: ``POST /as4``, the reporting rows, the MLS service levels.

``create_app`` calls :func:`setup` once, after the outbound service exists. Without an
``[as4]`` identity (key, certificate, trust anchors) nothing AS4 is mounted except the
reporting endpoint, so a gateway that only does REST/e-mail is unaffected.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from gateway.as4 import as4_handler, configured, parse_when, summarise
from gateway.as4 import export_rows as export
from gateway.channels.as4.channel import As4Channel
from gateway.channels.as4.levels import service_levels
from gateway.channels.as4.metrics import MlsLevels
from gateway.owed import OWED
from gateway.web import (
    DB,
    INTAKE,
    METRICS,
    OBJECT,
    SETTINGS,
    Content,
    Param,
    Params,
    Problem,
    operation,
    require,
    require_operator,
)

AS4 = web.AppKey("as4", As4Channel)
#: ``from``/``to`` are read by :func:`gateway.as4.parse_when` (``bad-period``); the toolkit
#: refuses unknown names and an unknown ``format`` (it used to fall back to rows silently).
REPORTING_PARAMS = Params(
    Param("from", "text", "Start of the period (ISO date or timestamp, inclusive)."),
    Param("to", "text", "End of the period (ISO date or timestamp, exclusive)."),
    Param(
        "format",
        "choice",
        "rows (every reporting row) or summary (the TSR/EUSR figures).",
        default="rows",
        choices=("rows", "summary"),
    ),
)
LEVEL_PARAMS = Params(Param("days", "int", "Days looked back (1-366).", 7, 1, 366))
log = logging.getLogger(__name__)


def setup(app: web.Application, outbound: Any | None = None) -> As4Channel | None:
    """Mount ``POST /as4`` when ``[as4]`` is configured (the outbound service registers the
    ``as4`` transport itself, so ``gateway outbound run`` has it too)."""
    app.router.add_get("/v1/admin/reporting", reporting)
    app.router.add_get("/v1/admin/mls/service-levels", mls_service_levels)
    settings = app[SETTINGS]
    if not configured(settings.as4):
        return None
    channel = As4Channel(settings, app[DB], app[INTAKE], outbound)
    # MLS outcomes on /metrics (gateway_mls_total): the flow's observer hooks.
    channel.consumer.observer = app.get(METRICS)
    if channel.responder is not None:
        channel.responder.observer = app.get(METRICS)
    app[AS4] = channel
    metrics = app.get(METRICS)
    if metrics is not None:  # the MLS service levels on /metrics (gateway_mls_*)
        metrics.add_snapshot(MlsLevels(app[DB], settings.metrics.snapshot_seconds))
    describe = operation(
        "Peppol AS4 inbound (ebMS 3.0 One-Way/Push, signed and encrypted SOAP with MIME)",
        tag="peppol",
        body=Content("multipart/related", {}),
        responses={200: Content("application/soap+xml", {"type": "string"})},
        description="Answers are SOAP: a signed receipt, or an ebMS error signal.",
    )
    app.router.add_post("/as4", describe(as4_handler(channel.receiver)))

    if channel.outbox is not None:  # owed MLS a crash left: the app's one recovery loop
        app[OWED].register(channel.outbox.owed, settings.as4.mls_sweep_interval)
    # Closed once that loop has ended: it pays over the channel's sender.
    app[OWED].close_after(channel.aclose)
    return channel


@operation(
    "Peppol reporting rows of the tenant (TSR/EUSR input)",
    tag="peppol",
    scope="admin",
    params=REPORTING_PARAMS,
    responses={200: OBJECT},
    errors=(400,),
)
async def reporting(request: web.Request) -> web.Response:
    """``GET /v1/admin/reporting?from=&to=[&format=summary]``: this tenant's Peppol rows."""
    principal = require(request, "admin")
    query = REPORTING_PARAMS.parse(request)
    try:
        start, end = parse_when(query["from"]), parse_when(query["to"])
    except ValueError as exc:
        raise Problem(400, "bad-period", f"from/to must be ISO dates or timestamps: {exc}") from exc
    rows = await export(request.app[DB], start, end, tenant=principal.tenant)
    if query["format"] == "summary":
        return web.json_response(summarise(rows))
    return web.json_response({"rows": rows, "count": len(rows)})


@operation(
    "MLS service levels (operator)",
    tag="peppol",
    scope="operator",
    params=LEVEL_PARAMS,
    responses={200: OBJECT},
    errors=(400,),
)
async def mls_service_levels(request: web.Request) -> web.Response:
    """``GET /v1/admin/mls/service-levels[?days=7]``: MLS sent within 20 min / received within
    25 min per day, and the messages still waiting (access point wide: ``operator``)."""
    require_operator(request)
    days = LEVEL_PARAMS.parse(request)["days"]
    since = datetime.now(UTC) - timedelta(days=days)
    return web.json_response(await service_levels(request.app[DB], since))
