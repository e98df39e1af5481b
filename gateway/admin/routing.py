"""Operator routes across tenants: list stranded documents, route one to a tenant.

- ``GET /v1/admin/unrouted``: documents stored without a tenant (unroutable, or refused input
  no tenant could be told about), oldest first, keyset-paged.
- ``POST /v1/admin/documents/{id}/route`` ``{"tenant": T, "reason"?: str, "actor"?: str}``:
  gives the document to ``T`` (see :mod:`gateway.inbound.routing` for what that means).

Both need an operator key (``gateway keys create --operator``): a tenant's admin must never see
or claim documents that are not (yet) its own.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from gateway.inbound import Routed, RoutingRefused, route_document
from gateway.lifecycle import ADMIN, Cause
from gateway.store import Document, document_summary, repo
from gateway.web import (
    DB,
    DOCUMENT,
    FORWARDER,
    INTAKE,
    LIFECYCLE,
    Params,
    Problem,
    cursor,
    limit,
    operation,
    page_of,
    read_json,
    require_operator,
)

UNROUTED_PARAMS = Params(cursor(), limit())


@operation(
    "Documents no tenant owns yet (operator)",
    tag="admin",
    scope="operator",
    params=UNROUTED_PARAMS,
    responses={200: page_of(DOCUMENT)},
    errors=(400,),
)
async def list_unrouted(request: web.Request) -> web.Response:
    require_operator(request)
    query = UNROUTED_PARAMS.parse(request)
    after, size = query["cursor"], query["limit"]
    stmt = (
        select(Document)
        .where(Document.tenant.is_(None), Document.seq > after)
        .order_by(Document.seq)
        .limit(size)
    )
    async with request.app[DB].read() as s:
        docs = list(await s.scalars(stmt))
    return web.json_response(
        {
            "items": [document_summary(d) for d in docs],
            "next_cursor": str(docs[-1].seq) if len(docs) == size else None,
        }
    )


@operation(
    "Give a stranded document to a tenant (operator)",
    tag="admin",
    scope="operator",
    responses={200: DOCUMENT},
    errors=(400, 404, 409, 422),
)
async def route(request: web.Request) -> web.Response:
    principal = require_operator(request)
    payload = await read_json(request)
    tenant, reason, actor = payload.get("tenant"), payload.get("reason"), payload.get("actor")
    if not isinstance(tenant, str) or not tenant.strip():
        raise Problem(422, "invalid-request", 'Send {"tenant": NAME, "reason": optional text}.')
    for name, value in (("reason", reason), ("actor", actor)):
        if value is not None and not isinstance(value, str):
            raise Problem(422, "invalid-request", f"{name} must be a string.")
    cause = principal.cause("operator", ADMIN, (actor or "").strip()[:200] or None)
    doc, routed = await route_stranded(
        request.app,
        request.match_info["id"],
        tenant.strip(),
        cause,
        (reason or "").strip() or f"routed by operator key {principal.key_id}",
    )
    body = document_summary(doc)
    body["routed"] = {"from_status": routed.previous, "to_status": routed.status}
    return web.json_response(body)


async def route_stranded(
    app: web.Application, doc_id: str, tenant: str, cause: Cause, reason: str
) -> tuple[Document, Routed]:
    """Give the stranded ``doc_id`` to ``tenant`` (operators; the API and the console)."""
    async with app[DB].write() as s:
        try:
            doc = await repo.get_document(s, doc_id, None, for_update=True)
        except repo.NotFound as exc:
            raise Problem(404, "not-found", f"No document {doc_id}.") from exc
        try:
            routed = await route_document(
                s,
                doc,
                tenant,
                lifecycle=app[LIFECYCLE],
                forwarding=app[FORWARDER],
                cause=cause,
                reason=reason,
            )
        except RoutingRefused as exc:
            status = 422 if exc.code == "unknown-tenant" else 409
            raise Problem(status, exc.code, str(exc), current_tenant=doc.tenant) from exc
    app[FORWARDER].wake()
    await app[INTAKE].routed(routed.document_id)
    return doc, routed
