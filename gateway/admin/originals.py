"""Releasing a wrongly flagged duplicate: ``POST /v1/admin/documents/{id}/mark-original``.

The document becomes an original (``duplicate -> received``), is forwarded like any original,
and the history records the admin key and the reason. It does not take over the claims of the
document it duplicated: that one stays the original for later submissions.
"""

from __future__ import annotations

from aiohttp import web

from gateway.store import repo
from gateway.store.serialize import document_summary
from gateway.store.statuses import ADMIN
from gateway.web import DB, FORWARDER, Problem, document_or_404, read_json, require


async def mark_original(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    payload = await read_json(request)
    reason = payload.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Problem(422, "reason-required", 'Say why: send {"reason": "..."}.')
    forwarder = request.app[FORWARDER]
    async with request.app[DB].write() as s:
        doc = await document_or_404(s, request.match_info["id"], principal.tenant, for_update=True)
        if doc.status != "duplicate":
            raise Problem(
                409,
                "not-a-duplicate",
                f"Only duplicates can be marked as original; this document is {doc.status}.",
                current_status=doc.status,
            )
        was = doc.duplicate_of
        repo.record_status(
            s,
            doc,
            "received",
            source="admin",
            actor=principal.actor,
            reason=f"marked as original (was duplicate of {was}): {reason.strip()}",
            check_as=ADMIN,
        )
        doc.duplicate_of = None
        doc.status_reason = f"released by admin; was duplicate of {was}"
        await forwarder.enqueue(s, doc)
    forwarder.wake()
    body = document_summary(doc)
    body["was_duplicate_of"] = was
    return web.json_response(body)
