"""``/v1/documents``: submit, read, list and change the status of documents."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.api import status, views
from gateway.documents import PDF_MAGIC
from gateway.inbound import (
    Attachment,
    CallerGone,
    IntakeRefused,
    IntakeResult,
    Submission,
)
from gateway.lifecycle import ADMIN, API
from gateway.store import Document, FieldRejected, column_lengths, repo
from gateway.web import (
    DB,
    DOCUMENT,
    INTAKE,
    LIFECYCLE,
    SETTINGS,
    Content,
    Principal,
    Problem,
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
)

XML_TYPES = frozenset({"application/xml", "text/xml"})
PDF_TYPE = "application/pdf"
#: HTTP status of an intake refusal by its code (others: 400).
REFUSAL_STATUS = {"too-large": 413, "validation-timeout": 422, "no-invoice-in-pdf": 422}
MAX_PAGE = 200
#: Column lengths of the document table: what a status name may be at most.
_LENGTHS = column_lengths(Document)
#: Longest status reason accepted (free text, kept in the history for ever).
MAX_REASON = 2000


@operation(
    "Submit a document (XML, a Factur-X PDF, or multipart with attachments)",
    tag="documents",
    scope="submit",
    body=(
        Content("application/xml", {"type": "string"}),
        Content(PDF_TYPE, {"type": "string", "format": "binary"}),
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
    elif request.content_type == PDF_TYPE:
        raw, attachments = await read_capped(request, limit), []
        if not raw.startswith(PDF_MAGIC):
            raise Problem(400, "not-a-pdf", "The body is sent as application/pdf but is no PDF.")
    else:
        raise Problem(
            415,
            "unsupported-media-type",
            "Send the document as application/xml, as application/pdf (Factur-X: validated by "
            "the invoice XML inside, stored as received), or as multipart/form-data with the "
            "XML in the first XML part.",
        )
    result = await take_in(request, principal, raw, attachments=attachments)
    if result is None:
        # Nginx's "client closed request": nobody reads it, the access log says what happened.
        return web.Response(status=499)
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


async def take_in(
    request: web.Request,
    principal: Principal,
    raw: bytes,
    *,
    attachments: list[Attachment] | None = None,
    metadata: dict[str, Any] | None = None,
) -> IntakeResult | None:
    """A document a key's tenant hands in over REST, through the one intake (channel ``api``):
    committed before the caller answers; None when the caller hung up during validation.
    Refusals are problems: unparseable XML, a PDF without an invoice (400/413/422, nothing
    stored), a value no column can hold (422)."""
    sub = Submission(
        raw=raw,
        channel="api",
        tenant=principal.tenant,
        metadata={"api_key": principal.key_id, **(metadata or {})},
        attachments=list(attachments or []),
        caller_gone=lambda: request.transport is None or request.transport.is_closing(),
    )
    try:
        return await request.app[INTAKE].submit(sub, refuse_unparseable=True)
    except CallerGone:
        return None
    except FieldRejected as exc:
        raise field_rejected(exc) from exc
    except IntakeRefused as exc:
        status = REFUSAL_STATUS.get(exc.code, 400)
        raise Problem(
            status, exc.code, exc.report.reason or exc.code, validation=exc.report.to_dict()
        ) from exc


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
    "The document's bytes exactly as received (XML, or the Factur-X PDF)",
    tag="documents",
    scope="read",
    responses={
        200: (
            Content("application/xml", {"type": "string"}),
            Content(PDF_TYPE, {"type": "string", "format": "binary"}),
        )
    },
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
    role = ADMIN if "admin" in principal.scopes else API
    cause = principal.cause("api", role, actor)
    body = await status.set_status(
        request.app,
        request.match_info["id"],
        principal.tenant,
        target,
        cause,
        reason,
        amount,
        paid_on,
    )
    return web.json_response(body)
