"""Work queues: duplicates (side by side with the original), outbound, responses, AS4.

Each page reads through the owning package's functions (the API's document search, the
outbound queue, the responses service) and shows at most one cursor page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select

from gateway.api import DOCUMENT_FILTERS, document_page
from gateway.as4 import As4MlsOutbox, As4Outbound
from gateway.console import system, tenants
from gateway.console.documents import scope_of
from gateway.console.guard import Refused, acting, see_other, viewer
from gateway.console.keys import ROOT
from gateway.console.render import page
from gateway.console.signin import safe_next
from gateway.outbound import OUTBOUND, OUTBOUND_FILTERS, item_dict
from gateway.responses import RESPONSES, InvoiceResponseRecord, NotHeld, response_entry
from gateway.store import document_summary, repo
from gateway.web import DB, LIFECYCLE, Param, Params, cursor, limit

#: Identification fields compared between a duplicate and its original.
KEY_FIELDS = (
    ("number", "number"),
    ("issue date", "issue_date"),
    ("seller", "seller_id"),
    ("buyer", "buyer_id"),
    ("amount", "payable_amount"),
    ("currency", "currency"),
    ("type", "kind"),
)
RESPONSE_FILTERS = Params(
    cursor(),
    limit(),
    Param(
        "state",
        "choice",
        "State.",
        choices=(
            "unmatched",
            "conflict",
            "refused",
            "held",
            "invalid",
            "waiting",
            "duplicate",
            "applied",
        ),
    ),
)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/duplicates", duplicates)
    router.add_get("/outbound", outbound)
    router.add_get("/responses", responses)
    router.add_post("/responses/rematch", rematch)
    router.add_post("/responses/{seq:\\d+}/apply", apply_held)
    router.add_get("/as4", as4)
    system.add_routes(router)
    tenants.add_routes(router)


def _next_url(request: web.Request, nxt: str | None) -> str | None:
    query = {k: v for k, v in request.query.items() if k != "cursor" and v}
    return f"?{urlencode({**query, 'cursor': nxt})}" if nxt else None


def matched(dup: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """Which key fields the duplicate shares with its original (the same bytes match all)."""
    same_bytes = dup["sha256"] == original["sha256"]
    fields = [
        (
            label,
            dup.get(key),
            original.get(key),
            bool(dup.get(key)) and dup.get(key) == original.get(key),
        )
        for label, key in KEY_FIELDS
    ]
    return {"same_bytes": same_bytes, "fields": fields}


async def duplicates(request: web.Request) -> web.Response:
    v = viewer(request)
    filters = DOCUMENT_FILTERS.parse({"status": "duplicate", **request.query})
    async with request.config_dict[DB].read() as s:
        result = await document_page(s, v.tenant, filters, lifecycle=request.config_dict[LIFECYCLE])
        pairs = []
        for dup in result["items"]:
            original = None
            if dup.get("duplicate_of"):
                try:
                    doc = await repo.get_document(s, dup["duplicate_of"], scope_of(v))
                    original = document_summary(doc)
                except repo.NotFound:
                    original = None
            pairs.append((dup, original, matched(dup, original) if original else None))
    return page(
        request,
        "duplicates.html",
        {"pairs": pairs, "next_url": _next_url(request, result["next_cursor"])},
    )


async def outbound(request: web.Request) -> web.Response:
    v = viewer(request)
    f = OUTBOUND_FILTERS.parse(request)
    rows = await request.app[ROOT][OUTBOUND].queue.list_items(
        v.tenant, state=f["status"], receiver=f["receiver"], after_seq=f["cursor"], limit=f["limit"]
    )
    nxt = str(rows[-1][0]) if len(rows) == f["limit"] else None
    items = [{**item_dict(item), "tenant": item.tenant} for _, item in rows]
    return page(
        request,
        "outbound.html",
        {"items": items, "status": f["status"], "next_url": _next_url(request, nxt)},
    )


async def responses(request: web.Request) -> web.Response:
    v = viewer(request)
    f = RESPONSE_FILTERS.parse(request)
    r = InvoiceResponseRecord
    states = (f["state"],) if f["state"] else ("unmatched", "conflict", "refused", "held")
    stmt = select(r).where(r.state.in_(states), r.seq > f["cursor"])
    if v.tenant is not None:
        stmt = stmt.where(r.tenant == v.tenant)
    async with request.config_dict[DB].read() as s:
        rows = list(await s.scalars(stmt.order_by(r.seq).limit(f["limit"])))
    mapping = request.app[ROOT][RESPONSES].mapping
    nxt = str(rows[-1].seq) if len(rows) == f["limit"] else None
    return page(
        request,
        "responses.html",
        {
            "items": [{**response_entry(x, mapping), "tenant": x.tenant} for x in rows],
            "state": f["state"],
            "next_url": _next_url(request, nxt),
        },
    )


async def rematch(request: web.Request) -> web.Response:
    acting(request)
    await request.app[ROOT][RESPONSES].sweep()
    return see_other("/console/responses")


async def apply_held(request: web.Request) -> web.Response:
    """Vouch for a held response (the same service call as ``POST /v1/admin/responses/{id}/apply``)."""
    v = acting(request)
    if v.tenant is None:
        raise Refused(409, "Choose a tenant", "Switch to the response's tenant first.")
    form = await request.post()
    reason = str(form.get("reason", "")).strip()[:2000] or None
    seq = int(request.match_info["seq"])
    try:
        await request.app[ROOT][RESPONSES].apply_held(
            seq, v.tenant, f"key:{v.key_id}", reason, v.key_id
        )
    except repo.NotFound as exc:
        raise Refused(404, "Not found", f"No held Invoice Response {seq} of {v.tenant}.") from exc
    except NotHeld as exc:  # handled meanwhile
        raise Refused(409, "Not applied", str(exc)) from exc
    return see_other(safe_next(str(form.get("next", "")) or "/console/responses"))


async def as4(request: web.Request) -> web.Response:
    """Received AS4 messages (message ids, from/to, the document and its status), sent ones
    (message id, receipt, errors) and MLS still owed."""
    v = viewer(request)
    f = DOCUMENT_FILTERS.parse({"channel": "as4", "direction": "inbound", "limit": "50"})
    async with request.config_dict[DB].read() as s:
        received = (await document_page(s, v.tenant, f))["items"]
        rows = await request.app[ROOT][OUTBOUND].queue.list_items(v.tenant, limit=50)
        ids = [item.document_id for _, item in rows]
        sent_meta = {}
        if ids:
            stmt = select(
                As4Outbound.document_id,
                As4Outbound.message_id,
                As4Outbound.instance_id,
                As4Outbound.receiver_party,
                As4Outbound.receipt.is_not(None),
                As4Outbound.delivered_at,
            ).where(As4Outbound.document_id.in_(ids))
            sent_meta = {row[0]: row for row in (await s.execute(stmt)).all()}
        owed_stmt = select(As4MlsOutbox).where(As4MlsOutbox.state == "pending")
        if v.tenant is not None:
            owed_stmt = owed_stmt.where(As4MlsOutbox.tenant == v.tenant)
        owed = list(await s.scalars(owed_stmt.limit(50)))
    sent = [
        (item_dict(item), sent_meta.get(item.document_id))
        for _, item in rows
        if item.document_id in sent_meta
    ]
    return page(request, "as4.html", {"received": received, "sent": sent, "owed": owed})
