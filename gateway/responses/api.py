"""HTTP side of Invoice Responses: admin listing/re-matching/settings, document view, wiring.

``setup(app)`` is called by the app factory after the outbound service is set up. It loads the
mapping table, hooks the service into intake (received
responses apply themselves) and the lifecycle (sent responses follow their outbound item;
waiting responses apply when their invoice leaves the queue) and the document API (status changes send responses; the
document view shows them), and runs the timers for the app's lifetime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.documents import ParseLimits
from gateway.outbound import OUTBOUND
from gateway.owed import OWED
from gateway.responses import models as rm
from gateway.responses import records
from gateway.responses import settings as tenant_settings
from gateway.responses.dkim import DkimTrust
from gateway.responses.emit import Emitter, emission_enabled, set_emission
from gateway.responses.follow import ResponseFollower
from gateway.responses.listing import filters, listing
from gateway.responses.mapping import Mapping, load_mapping
from gateway.responses.models import InvoiceResponseRecord
from gateway.responses.pending import attach
from gateway.responses.service import NotHeld, ResponseService
from gateway.responses.timers import Timers
from gateway.store import iso, repo
from gateway.web import (
    DB,
    FORWARDER,
    INTAKE,
    LIFECYCLE,
    OBJECT,
    SETTINGS,
    Problem,
    add_document_view,
    add_status_guard,
    int_param,
    on_status_changed,
    operation,
    page_of,
    read_json,
    require,
)

RESPONSES = web.AppKey("responses", ResponseService)
EMITTER = web.AppKey("response_emitter", Emitter)


def setup(app: web.Application) -> ResponseService:
    settings = app[SETTINGS]
    mapping = load_mapping(settings.responses.mapping_file or None)
    limits = ParseLimits(settings.validation.max_bytes, settings.validation.max_depth)
    service = ResponseService(app[DB], mapping, app[FORWARDER], limits, app[LIFECYCLE])
    outbound = app.get(OUTBOUND, None)
    emitter = Emitter(app[DB], mapping, app[INTAKE], outbound, limits, app[LIFECYCLE])
    if mapping.emit:  # an older mapping file's [emit] table: what profiles without one send
        app[LIFECYCLE].default_responses = mapping.response_rules()
    follower = ResponseFollower(service, app[LIFECYCLE])
    # Config entries and each tenant's own list (the email_trust setting) are both read.
    service.email_trust = DkimTrust(settings.responses.email_trust)
    app[LIFECYCLE].add_setting(
        tenant_settings.KEY, tenant_settings.email_trust_of, tenant_settings.set_email_trust
    )
    app[RESPONSES] = service
    app[EMITTER] = emitter
    app[INTAKE].after_store.append(service.on_intake)
    app[INTAKE].after_route.append(service.on_routed)
    attach(app[LIFECYCLE])

    async def view(session: Any, doc: Any) -> dict[str, Any]:
        return await document_view(session, doc, mapping)

    # A tenant's move owes its response in the move's transaction; the client's answer waits
    # for it; the recovery pass and the sweep pay what a crash left (gateway.owed).
    app[LIFECYCLE].on_move(emitter.on_move)
    on_status_changed(app, emitter.on_status_changed)
    app[OWED].register(emitter.outbox, settings.responses.owed_sweep_interval)
    add_status_guard(app, emitter.refusal, emitter.record_refusal)
    add_document_view(app, view)
    cfg = settings.responses
    app[LIFECYCLE].overdue_notices = cfg.overdue_timer
    timers = Timers(
        service,
        rematch_interval=cfg.rematch_interval,
        overdue=cfg.overdue_timer,
        overdue_interval=cfg.overdue_interval,
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        follower.start()
        timers.start()
        yield
        await timers.stop()
        await follower.stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/v1/admin/responses", list_responses)
    app.router.add_post("/v1/admin/responses/rematch", rematch)
    app.router.add_post("/v1/admin/responses/{id}/apply", apply_held)
    app.router.add_get("/v1/admin/responses/settings", get_settings)
    app.router.add_put("/v1/admin/responses/settings", put_settings)
    return service


# --- views --------------------------------------------------------------------------------


def response_entry(rec: InvoiceResponseRecord, mapping: Mapping | None = None) -> dict[str, Any]:
    d = rec.details or {}
    entry = mapping.codes.get(rec.response_code or "") if mapping else None
    return {
        "id": rec.seq,
        "direction": rec.direction,
        "state": rec.state,
        "detail": rec.detail,
        "response_id": rec.imr_id,
        "document_id": rec.document_id,
        "invoice_id": rec.invoice_id,
        "referenced_id": rec.referenced_id,
        "referenced_type_code": rec.referenced_type_code,
        "response_code": rec.response_code,
        "response_name": entry.name if entry else None,
        "partial": rec.partial,
        "status": rec.status,
        "sender": rec.sender,
        "receiver": rec.receiver,
        "issue_date": rec.issue_date,
        "issue_time": rec.issue_time,
        "effective_date": d.get("effective_date"),
        "reason_codes": d.get("reason_codes", []),
        "action_codes": d.get("action_codes", []),
        "statuses": d.get("statuses", []),
        "notes": d.get("notes", []),
        "responding_party": d.get("responding_party"),
        "recipient_party": d.get("recipient_party"),
        # What the channel proved about the sender, and who brought the response in.
        "proof": d.get("proof"),
        "vouched_by": d.get("vouched_by"),
        "actor": d.get("actor"),  # sent responses: the key whose status change caused it
        "copies": d.get("copies", []),
        "created_at": iso(rec.created_at),
    }


async def document_view(session: Any, doc: Any, mapping: Mapping) -> dict[str, Any]:
    """``invoice_responses`` of an invoice (received and sent); ``invoice_response`` of a T111."""
    rows = await records.of_invoice(session, InvoiceResponseRecord, doc.id)
    out: dict[str, Any] = {}
    if rows or doc.kind in ("Invoice", "CreditNote"):
        out["invoice_responses"] = [response_entry(r, mapping) for r in rows]
    own = await session.scalar(
        select(InvoiceResponseRecord).where(InvoiceResponseRecord.document_id == doc.id)
    )
    if own is not None:
        out["invoice_response"] = response_entry(own, mapping)
    return out


# --- admin handlers ---------------------------------------------------------------------------


RESPONSE_FILTERS = filters(rm.STATES)


@operation(
    "Invoice Responses by state (unmatched, conflict, refused, ...)",
    tag="responses",
    scope="admin",
    params=RESPONSE_FILTERS,
    responses={200: page_of(OBJECT)},
    errors=(400,),
)
async def list_responses(request: web.Request) -> web.Response:
    """``GET /v1/admin/responses?state=unmatched|conflict|refused|...&direction=received|sent``."""
    principal = require(request, "admin")
    service = request.app[RESPONSES]

    def entry(rec: InvoiceResponseRecord) -> dict[str, Any]:
        return response_entry(rec, service.mapping)

    return await listing(request, principal.tenant, service, RESPONSE_FILTERS, entry)


@operation(
    "Match unmatched Invoice Responses again now",
    tag="responses",
    scope="admin",
    responses={200: OBJECT},
    errors=(),
)
async def rematch(request: web.Request) -> web.Response:
    """Match unmatched responses again now (the timer does it every ``rematch_interval``)."""
    require(request, "admin")
    changed = await request.app[RESPONSES].sweep()
    return web.json_response({"changed": changed})


@operation(
    "Vouch for a held Invoice Response and apply it",
    tag="responses",
    scope="admin",
    responses={200: OBJECT},
    errors=(400, 404, 409, 422),
)
async def apply_held(request: web.Request) -> web.Response:
    """``POST /v1/admin/responses/{id}/apply`` ``{"reason"?, "actor"?}``: the tenant's admin
    vouches for a *held* response (its channel proved nothing, e.g. e-mail) and applies it, as
    if it had come with proof; the history names the admin key (and ``actor`` when given)."""
    principal = require(request, "admin")
    payload = await read_json(request)
    reason, actor = payload.get("reason"), payload.get("actor")
    if any(v is not None and not isinstance(v, str) for v in (reason, actor)):
        raise Problem(422, "invalid-request", 'Send {"reason": text, "actor": text} (optional).')
    seq = int_param(request.match_info["id"], "id")
    who = principal.actor + (f" ({actor.strip()[:100]})" if actor and actor.strip() else "")
    try:
        rec = await request.app[RESPONSES].apply_held(
            seq, principal.tenant, who, reason, principal.key_id
        )
    except repo.NotFound as exc:
        raise Problem(404, "not-found", f"No received Invoice Response {seq}.") from exc
    except NotHeld as exc:
        raise Problem(
            409,
            "not-held",
            f"Only held responses can be applied; this one is {exc.state}.",
            state=exc.state,
        ) from exc
    return web.json_response(response_entry(rec, request.app[RESPONSES].mapping))


@operation(
    "Invoice Response settings of the tenant",
    tag="responses",
    scope="admin",
    responses={200: OBJECT},
    errors=(),
)
async def get_settings(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    async with request.app[DB].read() as s:
        enabled = await emission_enabled(s, principal.tenant)
    return web.json_response({"tenant": principal.tenant, "emit_responses": enabled})


@operation(
    "Turn sending Invoice Responses on or off",
    tag="responses",
    scope="admin",
    responses={200: OBJECT},
    errors=(400, 422),
)
async def put_settings(request: web.Request) -> web.Response:
    """``{"emit_responses": true}``: send Invoice Responses when this tenant changes the status
    of a purchase invoice."""
    principal = require(request, "admin")
    payload = await read_json(request)
    enabled = payload.get("emit_responses")
    if not isinstance(enabled, bool):
        raise Problem(422, "invalid-request", 'Send {"emit_responses": true|false}.')
    async with request.app[DB].write() as s:
        await set_emission(s, principal.tenant, enabled)
    return web.json_response({"tenant": principal.tenant, "emit_responses": enabled})
