"""HTTP face of Peppol Reporting, mounted by the app factory, and the monthly schedule task.

- ``GET /v1/admin/peppol-reports[?month=]``: stored TSR/EUSR, validation findings, delivery.
- ``POST /v1/admin/peppol-reports`` ``{"kind": "tsr"|"eusr", "month": "YYYY-MM", "send": bool}``.
- ``GET /v1/admin/peppol-reports/{id}/xml``: the report exactly as validated and sent.
  These are the access point's (all tenants') figures: operator keys only.
- the receiver country (C4) routes: :mod:`gateway.reporting.countries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway.as4 import configured
from gateway.reporting import countries
from gateway.reporting.build import month_bounds
from gateway.reporting.service import KINDS, ReportingService
from gateway.reporting.wiring import reporter_id
from gateway.web import (
    DB,
    OBJECT,
    SETTINGS,
    Content,
    Param,
    Params,
    Problem,
    operation,
    read_json,
    require_operator,
)

log = logging.getLogger(__name__)

REPORTING = web.AppKey("peppol_reporting", ReportingService)


def setup(app: web.Application, outbound: Any | None, validator: Any) -> None:
    """Routes always; the service and its schedule only when ``[as4]`` is configured."""
    app.router.add_get("/v1/admin/peppol-reports", list_reports)
    app.router.add_post("/v1/admin/peppol-reports", create_report)
    app.router.add_get("/v1/admin/peppol-reports/{id}/xml", report_xml)
    countries.add_routes(app)
    settings = app[SETTINGS]
    if not configured(settings.as4):
        return

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        service = ReportingService(
            app[DB], reporter_id(settings.as4), _validate(validator), outbound
        )
        app[REPORTING] = service
        task = None
        if settings.reporting.schedule and outbound is not None:
            task = asyncio.create_task(_schedule(service, settings.reporting.interval))
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(lifecycle)


def _validate(validator: Any) -> Any:
    async def validate(raw: bytes, scenario: str) -> Any:
        return await validator().validate(raw, scenario)

    return validate


async def _schedule(service: ReportingService, interval: float) -> None:
    # The first look waits a minute: start-up (migrations, validator warm-up) comes first.
    await asyncio.sleep(min(interval, 60.0))
    while True:
        try:
            await service.run_schedule()
        except Exception:  # the next look retries; an invalid report is kept and listed
            log.exception("peppol reporting schedule failed")
        await asyncio.sleep(interval)


def _service(request: web.Request) -> ReportingService:
    service = request.app.get(REPORTING)
    if service is None:
        raise Problem(409, "as4-not-configured", "Peppol reporting needs [as4] to be configured.")
    return service


#: ``month`` is checked as text by the toolkit (unknown names are ``unknown-parameter``), then
#: as a month by :func:`_month` (``bad-month``, the code ``POST`` answers too).
LIST_PARAMS = Params(Param("month", "text", "Only this month's reports (YYYY-MM)."))


def _month(value: Any) -> str:
    try:
        month_bounds(str(value))
    except ValueError as exc:
        raise Problem(400, "bad-month", str(exc)) from exc
    return str(value)


@operation(
    "Peppol TSR/EUSR reports (operator)",
    tag="peppol",
    scope="operator",
    params=LIST_PARAMS,
    responses={200: OBJECT},
    errors=(400, 409),
)
async def list_reports(request: web.Request) -> web.Response:
    require_operator(request)  # the access point's figures, all tenants
    month = LIST_PARAMS.parse(request)["month"]
    if month is not None:
        month = _month(month)  # a bad request is a 400 before "not configured" (409)
    reports = await _service(request).list(month)
    return web.json_response({"reports": reports})


@operation(
    "Build a Peppol report for a month (operator)",
    tag="peppol",
    scope="operator",
    responses={201: OBJECT, 422: OBJECT},
    errors=(400, 409),
)
async def create_report(request: web.Request) -> web.Response:
    require_operator(request)  # the access point's figures, all tenants
    body = await read_json(request)
    kind = body.get("kind")
    if kind not in KINDS:
        raise Problem(400, "bad-kind", f"kind must be one of {', '.join(KINDS)}")
    service = _service(request)
    record = await service.generate(kind, _month(body.get("month")), origin="api")
    if body.get("send") and record.valid:
        await service.send(record)
    entry = next(r for r in await service.list(record.month) if r["id"] == record.id)
    return web.json_response(entry, status=201 if record.valid else 422)


@operation(
    "A Peppol report's XML (operator)",
    tag="peppol",
    scope="operator",
    responses={200: Content("application/xml", {"type": "string"})},
    errors=(404, 409),
)
async def report_xml(request: web.Request) -> web.Response:
    require_operator(request)  # the access point's figures, all tenants
    xml = await _service(request).xml(request.match_info["id"])
    if xml is None:
        raise Problem(404, "not-found", "No such report.")
    return web.Response(body=xml, content_type="application/xml")
