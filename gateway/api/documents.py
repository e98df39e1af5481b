"""``/v1/documents``: submit, read, list and change the status of documents."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.api import hooks
from gateway.api.auth import require
from gateway.api.body import XML_TYPES, read_capped, read_multipart
from gateway.api.problems import Problem
from gateway.inbound.intake import IntakeRefused, Submission
from gateway.lifecycle import IllegalTransition
from gateway.lifecycle.vocabulary import ADMIN, API
from gateway.server.appkeys import DB, FORWARDER, INTAKE, LIFECYCLE, SETTINGS
from gateway.store import repo
from gateway.store.serialize import (
    attachment_entry,
    delivery_entry,
    document_summary,
    history_entry,
)

MAX_JSON_BODY = 64 * 1024
MAX_PAGE = 200


async def submit(request: web.Request) -> web.Response:
    principal = require(request, "submit")
    limit = request.app[SETTINGS].http.max_body_bytes
    if request.content_type.startswith("multipart/"):
        raw, attachments = await read_multipart(request, limit)
    elif request.content_type in XML_TYPES:
        raw, attachments = await read_capped(request, limit), []
    else:
        raise Problem(
            415,
            "unsupported-media-type",
            "Send the document as application/xml, or as multipart/form-data with the XML "
            "in the first XML part.",
        )
    sub = Submission(
        raw=raw,
        channel="api",
        tenant=principal.tenant,
        metadata={"api_key": principal.key_id},
        attachments=attachments,
    )
    try:
        result = await request.app[INTAKE].submit(sub, refuse_unparseable=True)
    except IntakeRefused as exc:
        status = 413 if exc.code == "too-large" else 400
        raise Problem(
            status, exc.code, exc.report.reason or exc.code, validation=exc.report.to_dict()
        ) from exc
    report = result.report
    body = {
        "id": result.document_id,
        "status": result.status,
        "duplicate_of": result.duplicate_of,
        "validation": {
            "status": report.status,
            "scenario": report.scenario,
            "accepted": report.accepted,
            "findings": [f.to_dict() for f in report.findings],
        },
    }
    return web.json_response(
        body, status=201, headers={"Location": f"/v1/documents/{result.document_id}"}
    )


async def get_document(request: web.Request) -> web.Response:
    principal = require(request, "read")
    doc_id = request.match_info["id"]
    async with request.app[DB].read() as s:
        doc = await load_document(s, doc_id, principal.tenant)
        report = await repo.get_report(s, doc_id)
        changes = await repo.history(s, doc_id)
        atts = await repo.attachments(s, doc_id)
        deliveries = await repo.deliveries(s, doc_id)
        extra = await hooks.document_views(request.app, s, doc)
    body = document_summary(doc)
    body["validation"] = {
        "status": report.get("status"),
        "scenario": report.get("scenario"),
        "accepted": report.get("accepted"),
        "counts": report.get("counts"),
        "findings": report.get("findings", []),
        "reason": report.get("reason"),
    }
    body["history"] = [history_entry(c) for c in changes]
    body["attachments"] = [attachment_entry(a) for a in atts]
    body["deliveries"] = [delivery_entry(d, a) for d, a in deliveries]
    body["next_statuses"] = request.app[LIFECYCLE].model_of(doc).next_statuses(doc.status, API)
    body.update(extra)
    return web.json_response(body)


async def get_content(request: web.Request) -> web.Response:
    principal = require(request, "read")
    async with request.app[DB].read() as s:
        try:
            raw, ctype = await repo.get_raw(s, request.match_info["id"], principal.tenant)
        except repo.NotFound as exc:
            raise _not_found(request.match_info["id"]) from exc
    return web.Response(body=raw, content_type=ctype)


async def list_documents(request: web.Request) -> web.Response:
    principal = require(request, "read")
    q = request.query
    after = int_param(q.get("cursor", "0"), "cursor")
    limit = min(max(int_param(q.get("limit", "50"), "limit"), 1), MAX_PAGE)
    async with request.app[DB].read() as s:
        docs = await repo.list_documents(
            s,
            principal.tenant,
            status=q.get("status") or None,
            channel=q.get("channel") or None,
            direction=q.get("direction") or None,
            after_seq=after,
            limit=limit,
        )
    items = [document_summary(d) for d in docs]
    next_cursor = str(docs[-1].seq) if len(docs) == limit else None
    return web.json_response({"items": items, "next_cursor": next_cursor})


async def change_status(request: web.Request) -> web.Response:
    principal = require(request, "status")
    payload = await read_json(request)
    target = payload.get("status")
    reason = payload.get("reason")
    actor = payload.get("actor")
    if (
        not isinstance(target, str)
        or (reason is not None and not isinstance(reason, str))
        or (actor is not None and not (isinstance(actor, str) and 0 < len(actor) <= 200))
    ):
        raise Problem(
            422,
            "invalid-request",
            'Send {"status": NAME, "reason": optional text, "actor": optional name}.',
        )
    doc_id = request.match_info["id"]
    lifecycle = request.app[LIFECYCLE]
    role = ADMIN if "admin" in principal.scopes else API
    cause = principal.cause("api", role, actor)
    async with request.app[DB].write() as s:
        doc = await load_document(s, doc_id, principal.tenant, for_update=True)
        previous = doc.status
        refused = await hooks.status_refusal(request.app, s, doc, target)
        if refused is None:
            try:
                await lifecycle.move(s, doc, target, cause, reason=reason)
            except IllegalTransition as exc:
                raise Problem(
                    409,
                    exc.code,
                    exc.reason,
                    current_status=exc.current,
                    requested_status=exc.target,
                    allowed=lifecycle.model_of(doc).next_statuses(exc.current, role),
                ) from exc
    change = hooks.StatusChanged(
        doc.id, doc.direction, previous, target, reason, cause.actor, principal.key_id
    )
    if refused is not None:  # nothing was written; the refusal itself is recorded by listeners
        await hooks.status_refused(request.app, change, refused)
        raise Problem(409, "response-refused", refused, current_status=previous)
    request.app[FORWARDER].wake()  # the document.status_changed event is committed
    await hooks.status_changed(request.app, change)
    return web.json_response(document_summary(doc))


async def read_json(request: web.Request) -> dict[str, Any]:
    raw = await read_capped(request, MAX_JSON_BODY)
    try:
        payload = json.loads(raw or b"{}")
    except ValueError as exc:
        raise Problem(400, "invalid-json", f"The body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Problem(400, "invalid-json", "The body must be a JSON object.")
    return payload


async def load_document(s: Any, doc_id: str, tenant: str, *, for_update: bool = False) -> Any:
    try:
        return await repo.get_document(s, doc_id, tenant, for_update=for_update)
    except repo.NotFound as exc:
        raise _not_found(doc_id) from exc


def _not_found(doc_id: str) -> Problem:
    # Same answer for "does not exist" and "belongs to another tenant": ids leak nothing.
    return Problem(404, "not-found", f"No document {doc_id}.")


def int_param(value: str, name: str) -> int:
    try:
        out = int(value)
    except ValueError:
        raise Problem(400, "bad-request", f"{name} must be an integer.") from None
    if out < 0:
        raise Problem(400, "bad-request", f"{name} must not be negative.")
    return out
