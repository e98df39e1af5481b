"""REST handlers of drafts: ``POST /v1/outbound?draft=true|send_at=``, ``PUT .../content``,
``DELETE /v1/outbound/{id}``, ``POST .../send`` (see :mod:`gateway.outbound.drafts`).

Refusals: 409 ``duplicate-outbound`` (with ``original_id``) when creating, correcting or sending
a draft whose business key another sent original holds (``?reissue=true`` sends a deliberate
copy), 409 ``not-a-draft`` (the document was sent or deleted), 409 with the lifecycle's
code and exact sentence when the tenant's profile does not allow the move yet (e.g. sending a
``New`` invoice in the channel-marketplace profile), 422 for invalid XML. The query is
declared (:mod:`gateway.outbound.params`): a bad ``send_at`` (or one without a time zone) is
400 ``invalid-parameter``, an unknown name 400 ``unknown-parameter``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from gateway.lifecycle import IllegalTransition, OutboundDraft
from gateway.outbound import params
from gateway.outbound.drafts import NotADraft
from gateway.outbound.duplicates import DuplicateOutbound
from gateway.store import Document, iso, repo
from gateway.web import (
    DB,
    OBJECT,
    OUTBOUND,
    Content,
    Principal,
    Problem,
    invalid,
    operation,
    read_capped,
    require,
)


def wants_draft(query: dict[str, Any]) -> bool:
    """``?draft=true`` or ``?send_at=`` (parsed by :data:`gateway.outbound.params.SUBMIT`)."""
    if query["send_at"] is not None and query["draft"] is False:
        raise invalid("draft", "send_at keeps a draft; leave draft out or give draft=true.")
    return bool(query["draft"]) or query["send_at"] is not None


def _body(doc: Document, draft: OutboundDraft | None) -> dict[str, Any]:
    return {
        "id": doc.id,
        "status": doc.status,
        "receiver": draft.receiver if draft else doc.receiver_endpoint,
        "send_at": iso(draft.send_at) if draft else None,
        "corrections": int((doc.meta or {}).get("corrections", 0)),
    }


async def create(
    service: Any, principal: Principal, raw: bytes, receiver: str | None, query: dict[str, Any]
) -> web.Response:
    from gateway.outbound.service import SubmissionRefused

    send_at: dt.datetime | None = query["send_at"]
    try:
        prepared = await service.prepare(principal.tenant, raw, receiver=receiver)
    except SubmissionRefused as exc:
        extra = {"report": exc.report.to_dict()} if exc.report is not None else {}
        raise Problem(422, exc.code, exc.detail, **extra) from exc
    async with _refusals():
        doc = await service.drafts.create(
            Document(**prepared.fields),
            prepared.routing,
            send_at=send_at,
            cause=principal.cause("api"),
            reissue=query["reissue"],
        )
    body = {**_body(doc, None), "send_at": iso(send_at), "receiver": prepared.routing["receiver"]}
    body["validation"] = {"status": prepared.report.status, "accepted": True}
    return web.json_response(body, status=201, headers={"Location": f"/v1/outbound/{doc.id}"})


async def show(request: web.Request, principal: Principal) -> web.Response:
    doc_id = request.match_info["id"]
    async with request.app[DB].read() as s:
        try:
            doc = await repo.get_document(s, doc_id, principal.tenant)
        except repo.NotFound:
            doc = None
        if doc is None or doc.direction != "outbound":
            raise Problem(404, "not-found", "No outbound document with this id.")
        draft = await s.get(OutboundDraft, doc_id)
    return web.json_response(_body(doc, draft))


@operation(
    "Replace the XML of a draft (a correction)",
    tag="outbound",
    scope="submit",
    params=params.CONTENT,
    body=Content("application/xml", {"type": "string"}),
    responses={200: OBJECT},
    errors=(400, 404, 409, 413, 422),
)
async def replace_content(request: web.Request) -> web.Response:
    from gateway.outbound.service import SubmissionRefused

    principal = require(request, "submit")
    query = params.CONTENT.parse(request)
    service = request.app[OUTBOUND]
    raw = await read_capped(request, service.settings.http.max_body_bytes)
    try:
        prepared = await service.prepare(principal.tenant, raw, receiver=query["receiver"])
    except SubmissionRefused as exc:
        extra = {"report": exc.report.to_dict()} if exc.report is not None else {}
        raise Problem(422, exc.code, exc.detail, **extra) from exc
    async with _refusals():
        doc = await service.drafts.replace_content(
            principal.tenant,
            request.match_info["id"],
            prepared.fields,
            prepared.routing,
            principal.cause("api"),
            reissue=query["reissue"],
        )
    return web.json_response(_body(doc, None))


@operation(
    "Delete a draft (status deleted; history stays)",
    tag="outbound",
    scope="submit",
    responses={200: OBJECT},
    errors=(404, 409),
)
async def delete(request: web.Request) -> web.Response:
    principal = require(request, "submit")
    async with _refusals():
        doc = await request.app[OUTBOUND].drafts.delete(
            principal.tenant, request.match_info["id"], principal.cause("api")
        )
    return web.json_response(_body(doc, None))


@operation(
    "Send a draft now (if the tenant's status profile allows it)",
    tag="outbound",
    scope="submit",
    params=params.SEND,
    responses={202: OBJECT},
    errors=(400, 404, 409),
)
async def send(request: web.Request) -> web.Response:
    principal = require(request, "submit")
    reissue = params.SEND.parse(request)["reissue"]
    role = "admin" if "admin" in principal.scopes else "api"
    async with _refusals():
        item = await request.app[OUTBOUND].drafts.send(
            principal.tenant, request.match_info["id"], principal.cause("api", role), reissue
        )
    return web.json_response(
        {"id": item.document_id, "status": "queued", "message_id": item.message_id}, status=202
    )


class _refusals:
    """Turn draft and lifecycle refusals into problem responses."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if isinstance(exc, repo.NotFound):
            raise Problem(404, "not-found", "No outbound document with this id.") from exc
        if isinstance(exc, NotADraft):
            raise Problem(409, "not-a-draft", str(exc), current_status=exc.current) from exc
        if isinstance(exc, DuplicateOutbound):
            raise Problem(409, "duplicate-outbound", str(exc), original_id=exc.original_id) from exc
        if isinstance(exc, IllegalTransition):
            raise Problem(
                409, exc.code, exc.reason, current_status=exc.current, requested_status=exc.target
            ) from exc
        return False
