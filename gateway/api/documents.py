"""``/v1/documents``: submit, read, list and change the status of documents."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.api import views
from gateway.inbound.intake import CallerGone, IntakeRefused, Submission
from gateway.lifecycle import IllegalTransition, payments
from gateway.lifecycle.vocabulary import ADMIN, API
from gateway.store import Document, FieldRejected, repo
from gateway.store.fit import column_lengths
from gateway.store.serialize import document_summary
from gateway.web import (
    DB,
    DOCUMENT,
    FORWARDER,
    INTAKE,
    LIFECYCLE,
    SETTINGS,
    Content,
    Problem,
    StatusChanged,
    document_or_404,
    field_rejected,
    field_text,
    int_param,
    invalid_field,
    not_found,
    operation,
    page_of,
    read_capped,
    read_json,
    read_multipart,
    require,
    status_changed,
    status_refusal,
    status_refused,
)

XML_TYPES = frozenset({"application/xml", "text/xml"})
MAX_PAGE = 200
#: Column lengths of the document table: what a status name may be at most.
_LENGTHS = column_lengths(Document)
#: Longest status reason accepted (free text, kept in the history for ever).
MAX_REASON = 2000


@operation(
    "Submit a document (XML, or multipart with attachments)",
    tag="documents",
    scope="submit",
    body=(
        Content("application/xml", {"type": "string"}),
        Content("multipart/form-data", {"type": "object"}),
    ),
    responses={201: {"type": "object", "required": ["id", "status", "validation"]}},
    errors=(400, 413, 415, 422),
)
async def submit(request: web.Request) -> web.Response:
    principal = require(request, "submit")
    limit = request.app[SETTINGS].http.max_body_bytes
    if request.content_type.startswith("multipart/"):
        try:
            raw, attachments = await read_multipart(request, limit)
        except (ValueError, HttpProcessingError) as exc:
            # Broken part headers, no boundary, a truncated body: the client's mistake.
            raise Problem(400, "bad-multipart", "The multipart body cannot be read.") from exc
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
        caller_gone=lambda: request.transport is None or request.transport.is_closing(),
    )
    try:
        result = await request.app[INTAKE].submit(sub, refuse_unparseable=True)
    except CallerGone:
        # Nginx's "client closed request": nobody reads it, the access log says what happened.
        return web.Response(status=499)
    except FieldRejected as exc:
        raise field_rejected(exc) from exc
    except IntakeRefused as exc:
        status = {"too-large": 413, "validation-timeout": 422}.get(exc.code, 400)
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


@operation(
    "A document with its report, history, attachments and deliveries",
    tag="documents",
    scope="read",
    responses={200: DOCUMENT},
    errors=(404,),
)
async def get_document(request: web.Request) -> web.Response:
    principal = require(request, "read")
    async with request.app[DB].read() as s:
        body = await views.document_detail(
            request.app, s, request.match_info["id"], principal.tenant
        )
    return web.json_response(body)


@operation(
    "The document's bytes exactly as received",
    tag="documents",
    scope="read",
    responses={200: Content("application/xml", {"type": "string"})},
    errors=(404,),
)
async def get_content(request: web.Request) -> web.Response:
    principal = require(request, "read")
    async with request.app[DB].read() as s:
        try:
            raw, ctype = await repo.get_raw(s, request.match_info["id"], principal.tenant)
        except repo.NotFound as exc:
            raise not_found("document", request.match_info["id"]) from exc
    return web.Response(body=raw, content_type=ctype)


@operation(
    "One stored attachment by its index in the document's attachments",
    tag="documents",
    scope="read",
    responses={200: Content("application/octet-stream", {})},
    errors=(404,),
)
async def get_attachment(request: web.Request) -> web.Response:
    """One stored attachment by its position in the document's ``attachments`` list."""
    principal = require(request, "read")
    index = int_param(request.match_info["n"], "n")
    async with request.app[DB].read() as s:
        data, ctype, name = await views.attachment_file(
            s, request.match_info["id"], principal.tenant, index=index
        )
    return web.Response(body=data, content_type=ctype, headers=views.download_headers(name))


@operation(
    "One stored attachment by its file name",
    tag="documents",
    scope="read",
    responses={200: Content("application/octet-stream", {})},
    errors=(404,),
)
async def get_attachment_by_name(request: web.Request) -> web.Response:
    principal = require(request, "read")
    async with request.app[DB].read() as s:
        data, ctype, name = await views.attachment_file(
            s, request.match_info["id"], principal.tenant, name=request.match_info["name"]
        )
    return web.Response(body=data, content_type=ctype, headers=views.download_headers(name))


@operation(
    "Search documents (cursor-paged)",
    tag="documents",
    scope="read",
    params=views.DOCUMENT_FILTERS,
    responses={200: page_of(DOCUMENT)},
)
async def list_documents(request: web.Request) -> web.Response:
    principal = require(request, "read")
    filters = views.DOCUMENT_FILTERS.parse(request)
    async with request.app[DB].read() as s:
        page = await views.document_page(
            s, principal.tenant, filters, lifecycle=request.app[LIFECYCLE]
        )
    return web.json_response(page)


@operation(
    "Change a document's status (the status model decides what is allowed)",
    tag="documents",
    scope="status",
    body={
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string"},
            "reason": {"type": "string"},
            "actor": {"type": "string", "minLength": 1, "maxLength": 200},
        },
    },
    responses={200: DOCUMENT},
    errors=(400, 404, 409, 422),
)
async def change_status(request: web.Request) -> web.Response:
    principal = require(request, "status")
    payload = await read_json(request)
    amount = payload.get("amount")
    paid_on = payload.get("paid_on")
    if (
        not isinstance(payload.get("status"), str)
        or not isinstance(payload.get("reason", ""), str | None)
        or not isinstance(payload.get("actor", ""), str | None)
    ):
        raise Problem(
            422,
            "invalid-request",
            'Send {"status": NAME, "reason": optional text, "actor": optional name}.',
        )
    target = field_text(payload, "status", _LENGTHS["status"], required=True)
    reason = field_text(payload, "reason", MAX_REASON, multiline=True)
    actor = field_text(payload, "actor", 200)
    if actor is not None and not actor:
        raise invalid_field("actor", "must not be empty")
    doc_id = request.match_info["id"]
    lifecycle = request.app[LIFECYCLE]
    role = ADMIN if "admin" in principal.scopes else API
    cause = principal.cause("api", role, actor)
    async with request.app[DB].write() as s:
        doc = await document_or_404(s, doc_id, principal.tenant, for_update=True)
        previous = doc.status
        canonical = await lifecycle.resolve(s, doc, target)
        refused = await status_refusal(request.app, s, doc, canonical)
        if refused is None:
            try:
                if amount is not None or _is_payment(doc, canonical):
                    await _pay(lifecycle, s, doc, cause, amount, paid_on, reason)
                else:
                    await lifecycle.move(s, doc, canonical, cause, reason=reason)
            except IllegalTransition as exc:
                raise Problem(
                    409,
                    exc.code,
                    exc.reason,
                    current_status=exc.current,
                    requested_status=target,
                    allowed=await lifecycle.next_statuses(s, doc, role),
                ) from exc
        body = {**document_summary(doc), **await lifecycle.describe(s, doc)}
    change = StatusChanged(
        doc.id, doc.direction, previous, canonical, reason, cause.actor, principal.key_id
    )
    if refused is not None:  # nothing was written; the refusal itself is recorded by listeners
        await status_refused(request.app, change, refused)
        raise Problem(409, "response-refused", refused, current_status=previous)
    request.app[FORWARDER].wake()  # the document.status_changed event is committed
    await status_changed(request.app, change)
    return web.json_response(body)


def _is_payment(doc: Any, canonical: str) -> bool:
    """``paid`` of a sales invoice records the open amount as paid (partially_paid without an
    amount is only a status)."""
    return doc.direction == "outbound" and canonical == payments.PAID


async def _pay(
    lifecycle: Any, s: Any, doc: Any, cause: Any, amount: Any, paid_on: Any, reason: Any
) -> None:
    """A payment of a sales invoice (with ``amount``; without it, the rest is paid)."""
    if doc.direction != "outbound":
        raise Problem(422, "invalid-request", "amount applies to sales invoices only.")
    if paid_on is not None and not isinstance(paid_on, str):
        raise Problem(422, "invalid-request", "paid_on must be a date such as 2026-12-01.")
    try:
        value = payments.parse_amount(amount) if amount is not None else None
        await payments.pay(lifecycle, s, doc, cause, amount=value, paid_on=paid_on, reason=reason)
    except payments.BadAmount as exc:
        raise Problem(422, "bad-amount", str(exc)) from exc
