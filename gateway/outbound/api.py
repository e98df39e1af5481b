"""REST handlers: submit for sending, look at an item, requeue a failed one (admin).

The server's app factory calls :func:`setup` (service lifecycle + routes); every refusal is a
:class:`~gateway.web.Problem` (``application/problem+json`` with a stable ``code``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway.lifecycle import ADMIN
from gateway.outbound import draft_api, params
from gateway.outbound.duplicates import DuplicateOutbound
from gateway.outbound.models import STATES, OutboundAttempt, OutboundItem
from gateway.outbound.queue import NotRequeueable
from gateway.outbound.service import OutboundService, SubmissionRefused
from gateway.store import FieldRejected, column_lengths, iso
from gateway.web import (
    DB,
    INTAKE,
    LIFECYCLE,
    OBJECT,
    OUTBOUND,
    SETTINGS,
    Param,
    Params,
    Problem,
    cursor,
    field_rejected,
    header_text,
    limit,
    operation,
    page_of,
    read_capped,
    read_multipart,
    require,
)

MAX_IDEMPOTENCY_KEY = column_lengths(OutboundItem)["idempotency_key"] or 200
MAX_RECEIVER = params.MAX_RECEIVER


def setup(
    app: web.Application, service: OutboundService | None = None, *, run_workers: bool = True
) -> OutboundService:
    """Register routes and tie the service (and its delivery worker) to the app's lifetime.

    Call it in the app factory *after* the store/validator lifecycle is registered: without an
    explicit ``service`` one is built on ``app[SETTINGS]``/``app[DB]`` and, at startup, borrows
    the validator pool the intake pipeline started (``app[INTAKE].validator``).
    """
    if service is None:
        service = OutboundService(app[SETTINGS], app[DB], None, lifecycle=app.get(LIFECYCLE))
    app[OUTBOUND] = service

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if service.validator is None and INTAKE in app:
            service.validator = app[INTAKE].validator
        if run_workers:
            await service.start()
        else:
            await service.setup_discovery()
        yield
        await service.aclose()

    app.cleanup_ctx.append(lifecycle)
    add_routes(app)
    return service


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/outbound", submit)
    app.router.add_get("/v1/outbound", list_outbound)
    app.router.add_get("/v1/outbound/{id}", show)
    app.router.add_put("/v1/outbound/{id}/content", draft_api.replace_content)
    app.router.add_delete("/v1/outbound/{id}", draft_api.delete)
    app.router.add_post("/v1/outbound/{id}/send", draft_api.send)
    app.router.add_post("/v1/admin/outbound/{id}/requeue", requeue)


def item_dict(item: OutboundItem, attempts: list[OutboundAttempt] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.document_id,
        "status": item.state,
        "message_id": item.message_id,
        "receiver": item.receiver,
        "sender": item.sender or None,
        "document_type": item.document_type or None,
        "process": item.process or None,
        "attempts": item.total_attempts,
        "endpoint": item.endpoint,
        "created_at": iso(item.created_at),
        "delivered_at": iso(item.delivered_at),
    }
    if item.state == "retrying":
        out["next_attempt_at"] = iso(item.next_attempt_at)
    if item.state in ("retrying", "failed"):
        out["last_error"] = item.last_error
        out["last_error_code"] = item.last_error_code
    if attempts is not None:
        out["attempt_log"] = [
            {
                "number": a.number,
                "at": iso(a.started_at),
                "endpoint": a.endpoint,
                "transport": a.transport,
                "outcome": a.outcome,
                "status_code": a.status_code,
                "error_code": a.error_code,
                "error": a.error,
                "duration_ms": round(a.duration_ms, 1),
            }
            for a in attempts
        ]
    return out


@operation(
    "Send a document (validated, then queued; ?draft=true or ?send_at= keeps a draft: 201)",
    tag="outbound",
    scope="submit",
    params=params.SUBMIT,
    responses={201: OBJECT, 202: OBJECT},
    errors=(400, 409, 413, 422),
)
async def submit(request: web.Request) -> web.Response:
    principal = require(request, "submit")
    query = params.SUBMIT.parse(request)  # before the body is read: a typo costs no upload
    draft = draft_api.wants_draft(query)
    service = request.app[OUTBOUND]
    key = header_text(request, "Idempotency-Key", MAX_IDEMPOTENCY_KEY)
    if key is not None and not key:
        raise Problem(
            400,
            "bad-idempotency-key",
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters.",
        )
    receiver = query["receiver"] or header_text(request, "X-Receiver", MAX_RECEIVER)
    limit_bytes = service.settings.http.max_body_bytes
    if request.content_type.startswith("multipart/"):
        # XML + the client's own PDF + extra files: stored with it, mailed by `email` routes.
        raw, attachments = await read_multipart(request, limit_bytes)
    else:
        raw, attachments = await read_capped(request, limit_bytes), []
    if draft:
        return await draft_api.create(service, principal, raw, receiver, query)
    try:
        result = await service.submit(
            principal.tenant,
            raw,
            receiver=receiver,
            idempotency_key=key or None,
            actor=principal.actor,
            cause=principal.cause("api"),
            reissue=query["reissue"],
            attachments=attachments,
        )
    except DuplicateOutbound as exc:
        raise Problem(409, "duplicate-outbound", str(exc), original_id=exc.original_id) from exc
    except SubmissionRefused as exc:
        extra = {"report": exc.report.to_dict()} if exc.report is not None else {}
        raise Problem(422, exc.code, exc.detail, **extra) from exc
    except FieldRejected as exc:
        raise field_rejected(exc) from exc
    body = {"id": result.item.document_id, "status": "queued", "message_id": result.item.message_id}
    headers = {"Location": f"/v1/outbound/{result.item.document_id}"}
    if not result.created:
        headers["Idempotent-Replayed"] = "true"
        body["current_status"] = result.item.state
    return web.json_response(body, status=202, headers=headers)


@operation(
    "An outbound item with every attempt",
    tag="outbound",
    scope="read",
    responses={200: OBJECT},
    errors=(404,),
)
async def show(request: web.Request) -> web.Response:
    principal = require(request, "read")
    found = await request.app[OUTBOUND].queue.get(request.match_info["id"], principal.tenant)
    if found is None:
        return await draft_api.show(request, principal)
    return web.json_response(item_dict(*found))


OUTBOUND_FILTERS = Params(
    cursor(),
    limit(),
    Param("status", "choice", "Queue state.", choices=STATES),
    Param("receiver", "text", "Receiver participant id (scheme:id), exactly.", max_length=300),
)


@operation(
    "The sending queue (cursor-paged)",
    tag="outbound",
    scope="read",
    responses={200: page_of(OBJECT)},
    errors=(),
)
async def list_outbound(request: web.Request) -> web.Response:
    """``GET /v1/outbound?status=&receiver=&cursor=&limit=``: the tenant's sending queue."""
    principal = require(request, "read")
    f = OUTBOUND_FILTERS.parse(request)
    rows = await request.app[OUTBOUND].queue.list_items(
        principal.tenant,
        state=f["status"],
        receiver=f["receiver"],
        after_seq=f["cursor"],
        limit=f["limit"],
    )
    return web.json_response(
        {
            "items": [item_dict(item) for _, item in rows],
            "next_cursor": str(rows[-1][0]) if len(rows) == f["limit"] else None,
        }
    )


@operation(
    "Queue a failed item again",
    tag="outbound",
    scope="admin",
    responses={200: OBJECT},
    errors=(404, 409),
)
async def requeue(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    queue = request.app[OUTBOUND].queue
    doc_id = request.match_info["id"]
    if await queue.get(doc_id, principal.tenant) is None:
        raise Problem(404, "not-found", "No outbound document with this id.")
    try:
        cause = principal.cause("admin", ADMIN)
        item = await queue.requeue(doc_id, actor=principal.actor, cause=cause)
    except NotRequeueable as exc:
        raise Problem(409, "not-requeueable", str(exc), current_status=exc.state) from exc
    return web.json_response({"id": item.document_id, "status": item.state})
