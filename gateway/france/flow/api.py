"""The AFNOR XP Z12-013 Flow API (flow-service 1.3.0): submit, download, health (search:
:mod:`.search`, webhooks: :mod:`.webhooks`).

Mounted at ``/afnor/flow-service`` (the standard's server URL ``{base-path}/{service-name}``
with base path ``/afnor``). A flow is one of our documents (:mod:`.mapping`); submitting one
goes through the same intake as ``POST /v1/documents`` (channel ``api``: the one record
builder, committed before the 202, duplicates across channels, CDAR applied), with the
client's ``flowInfo`` kept in the record's metadata in the same transaction. Authentication
is our API keys as the standard's bearer token (scopes ``submit`` and ``read``); every query is
the key's tenant's only. Refusals are the standard's ``Error`` (:mod:`.errors`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import undefer

from gateway.api import take_in
from gateway.france.flow import lookup
from gateway.france.flow.errors import error
from gateway.france.flow.mapping import META_KEY, load_mapping
from gateway.france.flow.spec import DescriptionMissing, served
from gateway.rendering import document_rendering
from gateway.store import Document, iso, repo, text_fault
from gateway.web import (
    DB,
    JSON,
    SETTINGS,
    Content,
    Param,
    Params,
    Principal,
    Problem,
    operation,
    read_form,
    require,
)

TAG = "afnor-flow"
#: Enumerations of the standard (checked against its OpenAPI description by a test).
SYNTAXES = ("CII", "UBL", "Factur-X", "CDAR", "FRR")
PROFILES = ("Basic", "CIUS", "Extended-CTC-FR", "Undefined")
RULES = (
    "B2B",
    "B2BInt",
    "B2C",
    "B2G",
    "B2GInt",
    "OutOfScope",
    "B2GOutOfScope",
    "ArchiveOnly",
    "NotApplicable",
    "Undefined",
)
ACK_STATUSES = ("Pending", "Ok", "Error")
DOC_TYPES = ("Metadata", "Original", "Converted", "ReadableView")
_SHA256 = re.compile(r"[a-f0-9]{64}")
MAX_ID = 64
MAX_NAME = 255
GET_PARAMS = Params(Param("docType", "choice", "What to download.", "Metadata", choices=DOC_TYPES))
OBJ: dict[str, Any] = {"type": "object"}


def principal(request: web.Request, scope: str) -> Principal:
    """The key's principal with ``scope``; ``Organization-Id``, when sent, must be its tenant
    (a key acts for its own tenant only)."""
    who = require(request, scope)
    org = request.headers.get("Organization-Id")
    if org is not None and org.strip() != who.tenant:
        raise error(403, "FORBIDDEN_ACCESS", "Organization-Id is not the tenant of this key.")
    return who


# --- submit ---------------------------------------------------------------------------------------


@operation(
    "AFNOR Flow API: submit a flow (multipart: flowInfo + file)",
    tag=TAG,
    scope="submit",
    body=Content("multipart/form-data", OBJ),
    responses={202: OBJ},
    errors=(400, 413, 422),
)
async def create_flow(request: web.Request) -> web.Response:
    who = principal(request, "submit")
    if not request.content_type.startswith("multipart/"):
        raise error(400, "MISSING_REQUIRED_FIELD", "Send multipart/form-data: flowInfo, file.")
    parts = await read_form(request, request.app[SETTINGS].http.max_body_bytes)
    by_field = {p.field: p for p in reversed(parts)}  # the first part of each name
    for name in ("flowInfo", "file"):
        if name not in by_field:
            raise error(400, "MISSING_REQUIRED_FIELD", f"The multipart body has no {name} part.")
    info = flow_info(by_field["flowInfo"].data)
    raw = by_field["file"].data
    if not raw:
        raise error(400, "EMPTY_FLOW", "The file part is empty.")
    sha = repo.sha256_hex(raw)
    if info.get("sha256") and info["sha256"] != sha:
        raise error(422, "CHECKSUM_MISMATCH", f"sha256 given {info['sha256']}, file {sha}.")
    result = await take_in(request, who, raw, metadata={META_KEY: info})
    if result is None:  # the client hung up during validation; nothing was stored
        return web.Response(status=499)
    async with request.app[DB].read() as s:
        doc = await repo.get_document(s, result.document_id, who.tenant)
    body = {"flowId": doc.id, "submittedAt": _iso(doc.created_at), "sha256": sha, **info}
    return web.json_response(body, status=202, headers=request_id(request))


def flow_info(data: bytes) -> dict[str, Any]:
    """The ``flowInfo`` part, checked against ``FlowInfo`` (400 naming what is wrong)."""
    try:
        info = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise error(400, "INVALID_FLOW_INFO", "flowInfo is not a JSON object.") from exc
    if not isinstance(info, dict):
        raise error(400, "INVALID_FLOW_INFO", "flowInfo is not a JSON object.")
    out: dict[str, Any] = {}
    for name, required, check in (
        ("name", True, lambda v: checked_text(v, MAX_NAME)),
        ("flowSyntax", True, lambda v: v in SYNTAXES),
        ("trackingId", False, lambda v: checked_text(v, MAX_ID)),
        ("processingRule", False, lambda v: v in RULES),
        ("flowProfile", False, lambda v: v in PROFILES),
        ("sha256", False, lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None),
    ):
        if name not in info:
            if required:
                raise error(400, "MISSING_REQUIRED_FIELD", f"flowInfo.{name} is required.")
            continue
        if not check(info[name]):
            raise error(400, "INVALID_FLOW_INFO", f"flowInfo.{name} is not a valid value.")
        out[name] = info[name]
    return out


def checked_text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and bool(value) and text_fault(value, limit) is None


# --- get ------------------------------------------------------------------------------------------


@operation(
    "AFNOR Flow API: a flow's metadata, or its file (docType)",
    tag=TAG,
    scope="read",
    params=GET_PARAMS,
    responses={200: (Content(JSON, OBJ), Content("application/octet-stream", {}))},
    errors=(400, 404),
)
async def get_flow(request: web.Request) -> web.StreamResponse:
    who = principal(request, "read")
    doc_type = GET_PARAMS.parse(request)["docType"]
    flow_id = request.match_info["flowId"]
    m = load_mapping()
    async with request.app[DB].read() as s:
        doc = await s.scalar(
            select(Document)
            .options(undefer(Document.report))
            .where(
                Document.id == flow_id,
                Document.tenant == who.tenant,
                Document.kind.in_(m.flow_kinds),
            )
        )
        if doc is None:
            raise error(404, "MISSING_RESOURCE", f"No flow {flow_id}.")
        if doc_type == "Metadata":
            (flow,) = await lookup.flows(s, m, [doc])
            return web.json_response(flow, headers=request_id(request))
        raw, _ = await repo.get_raw(s, doc.id, who.tenant)
    name = ((doc.meta or {}).get(META_KEY) or {}).get("name") or f"{doc.number or doc.id}"
    if doc_type == "Converted":
        raise error(404, "MISSING_RESOURCE", "The gateway keeps flows as received, unconverted.")
    if doc_type == "ReadableView" and doc.content_type != "application/pdf":
        raw, name = await _readable(request, who.tenant, doc.id)
    return _download(request, raw, name)


async def _readable(request: web.Request, tenant: str, doc_id: str) -> tuple[bytes, str]:
    """The gateway's PDF rendering (a Factur-X flow is its own readable view)."""
    try:
        rendering = await document_rendering(request.app, tenant, doc_id, "pdf", "en")
    except Problem as exc:
        if exc.status == 503:
            raise
        raise error(404, "MISSING_RESOURCE", f"No readable view: {exc.detail}") from exc
    return rendering.body, rendering.filename


def _download(request: web.Request, raw: bytes, name: str) -> web.Response:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:200] or "flow"
    headers = {
        "Content-Disposition": f'attachment;filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
        **request_id(request),
    }
    return web.Response(body=raw, content_type="application/octet-stream", headers=headers)


# --- health and description -----------------------------------------------------------------------


@operation("AFNOR Flow API: health (no key needed)", tag=TAG, responses={200: None})
async def health(request: web.Request) -> web.Response:
    return web.Response(status=200, headers=request_id(request))


@operation("AFNOR Flow API: its OpenAPI description (XP Z12-013 1.3.0)", tag=TAG)
async def description(request: web.Request) -> web.Response:
    try:
        doc = served(
            request.app[SETTINGS].france.flow_openapi, f"{request.scheme}://{request.host}"
        )
    except DescriptionMissing as exc:
        # Not a server fault: this gateway serves no (or not the pinned) description.
        raise error(404, "NO_DESCRIPTION", str(exc)) from exc
    return web.json_response(doc)


def request_id(request: web.Request) -> dict[str, str]:
    """``Request-Id`` back, when the client sent a well-formed one (log correlation)."""
    rid = request.headers.get("Request-Id", "")
    return {"Request-Id": rid} if re.fullmatch(r"[0-9A-Fa-f-]{1,64}", rid) else {}


def _iso(value: dt.datetime) -> str:
    return iso(value) or ""
