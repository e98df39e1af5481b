"""What the API (and the console) show of documents: one function per view, returning the
JSON-ready dicts ``GET /v1/documents...`` answers with, so the console renders exactly what the
API returns.

``tenant=None`` means every tenant (operator keys); handlers pass the principal's tenant.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.lifecycle import API, Lifecycle, Models, credits, payments
from gateway.store import (
    attachment_entry,
    delivery_entry,
    document_summary,
    history_entry,
    repo,
)
from gateway.web import (
    LIFECYCLE,
    Param,
    Params,
    cursor,
    document_or_404,
    document_views,
    limit,
    not_found,
)

_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]{0,63}/[A-Za-z0-9][\w.+-]{0,126}$")
_OPAQUE = "application/octet-stream"


@functools.cache
def known_statuses() -> list[str]:
    """Every canonical status of the lifecycle's models (what ``?status=`` accepts)."""
    return sorted({s for m in Models.load().by_key.values() for s in m.statuses})


DOCUMENT_FILTERS = Params(
    cursor(),
    limit(),
    Param("status", "choice", "Current status.", choices=known_statuses),
    Param(
        "channel",
        "text",
        "Channel it came in or goes out on (api, email, as4, ...).",
        max_length=32,
    ),
    Param(
        "direction",
        "choice",
        "inbound (purchase) or outbound (sales).",
        choices=("inbound", "outbound"),
    ),
    Param("number", "text", "Document number, exactly."),
    Param(
        "seller", "text", "Seller's party key or endpoint id (scheme:id), exactly.", max_length=300
    ),
    Param(
        "buyer", "text", "Buyer's party key or endpoint id (scheme:id), exactly.", max_length=300
    ),
    Param("issued_from", "date", "Issue date on or after (YYYY-MM-DD)."),
    Param("issued_to", "date", "Issue date on or before (YYYY-MM-DD)."),
)


async def document_page(
    session: Any,
    tenant: str | None,
    filters: dict[str, Any],
    *,
    lifecycle: Lifecycle | None = None,
) -> dict[str, Any]:
    """One cursor page of documents matching ``filters`` (parsed by :data:`DOCUMENT_FILTERS`)."""
    f = dict(filters)
    size = f.pop("limit")
    after = f.pop("cursor")
    for key in ("issued_from", "issued_to"):
        f[key] = f[key].isoformat() if f.get(key) else None
    docs = await repo.list_documents(session, tenant, after_seq=after, limit=size, **f)
    items = [document_summary(d) for d in docs]
    if lifecycle is not None:  # status in the tenant's vocabulary next to canonical_status
        items = [
            {**i, **await lifecycle.describe(session, d)} for i, d in zip(items, docs, strict=True)
        ]
    return {
        "items": items,
        "next_cursor": str(docs[-1].seq) if len(docs) == size else None,
    }


async def document_detail(
    app: web.Application, session: Any, doc_id: str, tenant: str | None
) -> dict[str, Any]:
    """The document with its report, history, attachments, deliveries and what extensions add
    (Invoice Responses, MLS, ...)."""
    doc = await document_or_404(session, doc_id, tenant)
    report = await repo.get_report(session, doc_id)
    changes = await repo.history(session, doc_id)
    atts = await repo.attachments(session, doc_id)
    deliveries = await repo.deliveries(session, doc_id)
    extra = await document_views(app, session, doc)
    lifecycle = app[LIFECYCLE]
    body = {**document_summary(doc), **await lifecycle.describe(session, doc)}
    if doc.direction == "outbound" and doc.kind == "Invoice":
        extra.update(await payments.payments(session, doc))
    if doc.direction == "outbound" and doc.kind in ("Invoice", "CreditNote"):
        extra.update(await credits.links_of(session, doc.id))
    body["validation"] = {
        "status": report.get("status"),
        "scenario": report.get("scenario"),
        "accepted": report.get("accepted"),
        "counts": report.get("counts"),
        "findings": report.get("findings", []),
        "reason": report.get("reason"),
    }
    body["history"] = [history_entry(c) for c in changes]
    body["attachments"] = [
        {"index": i, **attachment_entry(a), "url": f"/v1/documents/{doc_id}/attachments/{i}"}
        for i, a in enumerate(atts)
    ]
    body["deliveries"] = [delivery_entry(d, a) for d, a in deliveries]
    body["next_statuses"] = await lifecycle.next_statuses(session, doc, API)
    body.update(extra)
    return body


async def attachment_file(
    session: Any,
    doc_id: str,
    tenant: str | None,
    *,
    index: int | None = None,
    name: str | None = None,
) -> tuple[bytes, str, str]:
    """(data, content type, file name) of one stored attachment, by position or by file name
    (the first one of that name), or 404."""
    await document_or_404(session, doc_id, tenant)
    atts = await repo.attachments(session, doc_id)
    if index is not None:
        found = atts[index] if index < len(atts) else None
    else:
        found = next((a for a in atts if a.filename == name), None)
    if found is None:
        raise not_found("attachment", f"{index if index is not None else name} of {doc_id}")
    data = await repo.attachment_data(session, found)
    ctype = found.content_type if _MEDIA_TYPE.match(found.content_type or "") else _OPAQUE
    return data, ctype.lower(), found.filename


def download_headers(filename: str) -> dict[str, str]:
    """``Content-Disposition: attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return {
        "Content-Disposition": (
            f'attachment; filename="{fallback or "attachment"}"; '
            f"filename*=UTF-8''{quote(filename, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
    }
