"""``POST /v1/flows/search`` of the Flow API: criteria, cursor and ``updatedAfter`` paging.

Flows are the key's tenant's documents of the flow kinds, ordered by last update (then by
row), so a client polling with ``updatedAfter`` or with the cursor sees every change. The
criteria the database can apply (direction, update times, tracking id) are in the query; the
ones computed from the mapping (flow type, processing rule, acknowledgement) are applied to
each page, at most :data:`MAX_SCAN` rows per call: the cursor then says where the next call
goes on, so a page may hold fewer flows than ``limit`` and still have a ``nextCursor``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from aiohttp import web
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import undefer

from gateway.france.flow import lookup
from gateway.france.flow.api import (
    ACK_STATUSES,
    MAX_ID,
    OBJ,
    RULES,
    TAG,
    checked_text,
    principal,
    request_id,
)
from gateway.france.flow.errors import error
from gateway.france.flow.mapping import IN, META_KEY, OUT, load_mapping
from gateway.france.flow.spec import FLOW_TYPES
from gateway.store import Document
from gateway.web import DB, operation, read_json

MAX_LIMIT, DEFAULT_LIMIT = 100, 25
#: Rows a search looks at per call at most.
MAX_SCAN = 1000
#: Rows read per query.
BATCH = 200


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
            rows = list(await s.scalars(_query(m, who.tenant, filters, last, BATCH)))
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
            more = len(rows) == BATCH or len(results) == limit
    body: dict[str, Any] = {"limit": limit, "filters": where, "results": results}
    if more and last is not None:
        body["nextCursor"] = _encode(last)
    return web.json_response(body, headers=request_id(request))


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
        if not checked_text(where["trackingId"], MAX_ID):
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
