"""HTTP side of France's lifecycle messages, and their wiring into the app.

``setup(app)`` (called by the app factory after the Invoice Responses) hooks the CDAR service
into intake (received messages apply themselves, routed ones once routed) and the emitter into
status changes and intake (a tenant's action on a French invoice, a DOUBLON, sends a CDAR
through the outbound queue), re-tries waiting
and unmatched messages when a sales invoice of theirs leaves the queue, adds the messages to
the document view, and serves ``GET /v1/france/cdar`` (every message of the tenant with its
state: applied, noted, conflict, held, refused, unmatched, ...).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.documents import ParseLimits
from gateway.france.codes import load_codes
from gateway.france.emit import CdarEmitter
from gateway.france.models import CdarRecord
from gateway.france.service import CdarService
from gateway.lifecycle import IN_FLIGHT, Moved
from gateway.outbound import OUTBOUND
from gateway.owed import OWED
from gateway.responses import (
    APPLIED,
    CONFLICT,
    DUPLICATE,
    HELD,
    INVALID,
    NOTED,
    REFUSED,
    UNMATCHED,
    WAITING,
    counterpart_filters,
    counterpart_listing,
)
from gateway.store import iso
from gateway.web import (
    DB,
    INTAKE,
    LIFECYCLE,
    OBJECT,
    SETTINGS,
    add_document_view,
    on_status_changed,
    operation,
    page_of,
    require,
)

CDAR = web.AppKey("france_cdar", CdarService)
CDAR_EMITTER = web.AppKey("france_cdar_emitter", CdarEmitter)
#: The states of a CDAR (the counterpart-status words, ``noted`` included).
STATES = (APPLIED, NOTED, CONFLICT, REFUSED, HELD, INVALID, UNMATCHED, WAITING, DUPLICATE)


def setup(app: web.Application) -> CdarService:
    settings = app[SETTINGS]
    limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)
    codes = load_codes()
    service = CdarService(app[DB], app[LIFECYCLE], codes, limits)
    intake = app[INTAKE]
    emitter = CdarEmitter(
        app[DB], codes, settings.france, lambda: intake.validator, app.get(OUTBOUND), limits
    )
    app[CDAR], app[CDAR_EMITTER] = service, emitter
    app[INTAKE].after_store.append(service.on_intake)
    app[INTAKE].after_store.append(emitter.on_intake)
    on_status_changed(app, emitter.on_status_changed)
    # Sent CDAR rows follow their outbound items; French sales invoices get 200 / 201.
    app[LIFECYCLE].on_move(emitter.on_move)
    app[LIFECYCLE].on_start(emitter.on_start)
    app[INTAKE].after_route.append(service.on_routed)
    tasks: set[asyncio.Task[Any]] = set()

    async def settled(session: Any, moved: Moved) -> None:
        """A sales invoice left the queue: messages that waited for it may apply now."""
        if moved.direction != "outbound" or moved.status in IN_FLIGHT:
            return
        if moved.previous not in IN_FLIGHT:
            return

        def later() -> None:
            task = asyncio.get_running_loop().create_task(service.retry(moved.document_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        app[LIFECYCLE].after_commit(session, later)

    async def view(session: Any, doc: Any) -> dict[str, Any]:
        rows = list(
            await session.scalars(
                select(CdarRecord)
                .where((CdarRecord.invoice_id == doc.id) | (CdarRecord.document_id == doc.id))
                .order_by(CdarRecord.seq)
            )
        )
        return {"cdar_statuses": [entry(r) for r in rows]} if rows else {}

    app[LIFECYCLE].on_move(settled)
    # The recovery pass at start (CDAR owed before a crash), then the periodic sweep.
    app[OWED].register(emitter.outbox, settings.france.owed_sweep_interval)
    add_document_view(app, view)
    app.router.add_get("/v1/france/cdar", list_cdar)
    return service


def entry(rec: CdarRecord) -> dict[str, Any]:
    d = rec.details or {}
    return {
        "id": rec.seq,
        "direction": rec.direction,
        "state": rec.state,
        "detail": rec.detail,
        "message_id": rec.message_id,
        "document_id": rec.document_id,
        "invoice_id": rec.invoice_id,
        "referenced_id": rec.referenced_id,
        "referenced_issue_date": rec.referenced_issue_date,
        "code": rec.code,
        "sales_status": rec.sales_status,
        "sender": rec.sender,
        "receiver": rec.receiver,
        "issuer": d.get("issuer"),
        "recipients": d.get("recipients", []),
        "reasons": d.get("reasons", []),
        "actions": d.get("actions", []),
        "characteristics": d.get("characteristics", []),
        "notes": d.get("notes", []),
        "proof": d.get("proof"),
        "created_at": iso(rec.created_at),
    }


CDAR_FILTERS = counterpart_filters(STATES)


@operation(
    "France: CDAR lifecycle messages of the tenant, by state",
    tag="france",
    scope="read",
    params=CDAR_FILTERS,
    responses={200: page_of(OBJECT)},
    errors=(400,),
)
async def list_cdar(request: web.Request) -> web.Response:
    """``GET /v1/france/cdar?state=held|refused|applied|...&direction=received|sent``."""
    principal = require(request, "read")
    return await counterpart_listing(
        request, principal.tenant, request.app[CDAR], CDAR_FILTERS, entry
    )
