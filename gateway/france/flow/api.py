"""The AFNOR XP Z12-013 Flow API (flow-service 1.3.0): flows, search, download, health.

Mounted at ``/afnor/flow-service`` (the standard's server URL ``{base-path}/{service-name}``
with base path ``/afnor``). A flow is one of our documents (:mod:`.mapping`); submitting one
goes through the same intake as ``POST /v1/documents`` (channel ``api``: the one record
builder, committed before the 202, duplicates across channels, CDAR applied), with the
client's ``flowInfo`` kept in the record's metadata in the same transaction. Authentication
is our API keys as the standard's bearer token (scopes ``submit`` and ``read``); every query is
the key's tenant's only. Refusals are the standard's ``Error`` (:mod:`.errors`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

from aiohttp import web
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import undefer

from gateway.api import take_in
from gateway.france.flow import lookup
from gateway.france.flow.errors import error
from gateway.france.flow.mapping import IN, META_KEY, OUT, load_mapping
from gateway.france.flow.spec import FLOW_TYPES, DescriptionMissing, served
from gateway.rendering import document_rendering
from gateway.store import Document, repo, text_fault
from gateway.store.serialize import iso
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
    read_json,
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
MAX_LIMIT, DEFAULT_LIMIT = 100, 25
#: Rows a search looks at per call at most (filters the database cannot apply are applied
#: here; the cursor then says where the next call goes on).
MAX_SCAN = 1000
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
    return web.json_response(body, status=202, headers=_request_id(request))


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
        ("name", True, lambda v: _text(v, MAX_NAME)),
        ("flowSyntax", True, lambda v: v in SYNTAXES),
        ("trackingId", False, lambda v: _text(v, MAX_ID)),
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


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and bool(value) and text_fault(value, limit) is None


# --- search ---------------------------------------------------------------------------------------


@operation(
    "AFNOR Flow API: search flows (cursor or updatedAfter pagination)",
    tag=TAG,
    scope="read",
    body=OBJ,
    responses={200: OBJ},
    errors=(400,),
)
async def search_flows(request: web.Request) -> web.Response:
    who = principal(request, "read")
    payload = await read_json(request)
    where = payload.get("where")
    if not isinstance(where, dict):
        raise error(400, "MISSING_REQUIRED_FIELD", "The search needs a where object.")
    filters = _filters(where)
    limit = payload.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise error(400, "INVALID_LIMIT", f"limit must be an integer from 1 to {MAX_LIMIT}.")
    after = _cursor(payload.get("cursor"))
    m = load_mapping()
    results: list[dict[str, Any]] = []
    scanned, more, last = 0, False, after
    async with request.app[DB].read() as s:
        while len(results) < limit and scanned < MAX_SCAN:
            rows = list(await s.scalars(_query(m, who.tenant, filters, last, 200)))
            if not rows:
                more = False
                break
            flows = await lookup.flows(s, m, rows)
            for doc, flow in zip(rows, flows, strict=True):
                scanned += 1
                last = (doc.updated_at, doc.seq)
                if _matches(flow, filters):
                    results.append(flow)
                    if len(results) == limit:
                        break
            more = len(rows) == 200 or len(results) == limit
    body: dict[str, Any] = {"limit": limit, "filters": where, "results": results}
    if more and last is not None:
        body["nextCursor"] = _encode(last)
    return web.json_response(body, headers=_request_id(request))


def _filters(where: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("updatedAfter", "updatedBefore"):
        if name in where:
            out[name] = _datetime(where[name], name)
    for name, allowed in (
        ("processingRule", RULES),
        ("flowType", FLOW_TYPES),
        ("flowDirection", (IN, OUT)),
    ):
        if name in where:
            values = where[name]
            if not isinstance(values, list) or any(v not in allowed for v in values):
                raise error(400, "INVALID_CRITERIA", f"where.{name}: a list of {name} values.")
            out[name] = set(values)
    if "trackingId" in where:
        if not _text(where["trackingId"], MAX_ID):
            raise error(400, "INVALID_CRITERIA", "where.trackingId: at most 64 characters.")
        out["trackingId"] = where["trackingId"]
    if "ackStatus" in where:
        if where["ackStatus"] not in ACK_STATUSES:
            raise error(400, "INVALID_CRITERIA", "where.ackStatus: Pending, Ok or Error.")
        out["ackStatus"] = where["ackStatus"]
    if not out:
        raise error(400, "MISSING_CRITERIA", "Give at least one search criterion in where.")
    return out


def _datetime(value: Any, name: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise error(400, "INVALID_CRITERIA", f"where.{name} is not a date-time.") from exc
    if not isinstance(value, str):
        raise error(400, "INVALID_CRITERIA", f"where.{name} is not a date-time.")
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _query(m: Any, tenant: str, f: dict[str, Any], after: Any, size: int) -> Any:
    stmt = (
        select(Document)
        .options(undefer(Document.report))
        .where(Document.tenant == tenant, Document.kind.in_(m.flow_kinds))
    )
    outbound = or_(Document.direction == "outbound", Document.channel.in_(m.out_channels))
    if f.get("flowDirection") == {OUT}:
        stmt = stmt.where(outbound)
    elif f.get("flowDirection") == {IN}:
        stmt = stmt.where(~outbound)
    if "updatedAfter" in f:
        stmt = stmt.where(Document.updated_at > f["updatedAfter"])
    if "updatedBefore" in f:
        stmt = stmt.where(Document.updated_at < f["updatedBefore"])
    if "trackingId" in f:
        stmt = stmt.where(Document.meta[META_KEY]["trackingId"].as_string() == f["trackingId"])
    if after is not None:
        at, seq = after
        stmt = stmt.where(
            or_(Document.updated_at > at, and_(Document.updated_at == at, Document.seq > seq))
        )
    return stmt.order_by(Document.updated_at, Document.seq).limit(size)


def _matches(flow: dict[str, Any], f: dict[str, Any]) -> bool:
    return (
        ("processingRule" not in f or flow["processingRule"] in f["processingRule"])
        and ("flowType" not in f or flow["flowType"] in f["flowType"])
        and ("flowDirection" not in f or flow["flowDirection"] in f["flowDirection"])
        and ("ackStatus" not in f or flow["acknowledgement"]["status"] == f["ackStatus"])
    )


def _encode(position: tuple[dt.datetime, int]) -> str:
    at, seq = position
    raw = json.dumps({"u": at.isoformat(), "s": seq}).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _cursor(value: Any) -> tuple[dt.datetime, int] | None:
    if value is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(str(value).encode("ascii")))
        return dt.datetime.fromisoformat(data["u"]), int(data["s"])
    except (ValueError, KeyError, TypeError, UnicodeEncodeError) as exc:
        raise error(400, "INVALID_CURSOR", "cursor is not one this API returned.") from exc


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
            return web.json_response(flow, headers=_request_id(request))
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
        **_request_id(request),
    }
    return web.Response(body=raw, content_type="application/octet-stream", headers=headers)


# --- health and description -----------------------------------------------------------------------


@operation("AFNOR Flow API: health (no key needed)", tag=TAG, responses={200: None})
async def health(request: web.Request) -> web.Response:
    return web.Response(status=200, headers=_request_id(request))


@operation("AFNOR Flow API: its OpenAPI description (XP Z12-013 1.3.0)", tag=TAG)
async def description(request: web.Request) -> web.Response:
    try:
        doc = served(
            request.app[SETTINGS].france.flow_openapi, f"{request.scheme}://{request.host}"
        )
    except DescriptionMissing as exc:
        raise error(503, "NO_DESCRIPTION", str(exc)) from exc
    return web.json_response(doc)


def _request_id(request: web.Request) -> dict[str, str]:
    """``Request-Id`` back, when the client sent a well-formed one (log correlation)."""
    rid = request.headers.get("Request-Id", "")
    return {"Request-Id": rid} if re.fullmatch(r"[0-9A-Fa-f-]{1,64}", rid) else {}


def _iso(value: dt.datetime) -> str:
    return iso(value) or ""
