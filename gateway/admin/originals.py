"""Releasing a wrongly flagged duplicate: ``POST /v1/admin/documents/{id}/mark-original``.

The document becomes an original (``duplicate -> received``), is forwarded like any original,
and the history records the admin key and the reason. It does not take over the claims of the
document it duplicated: that one stays the original for later submissions.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.forwarding import Forwarder
from gateway.lifecycle import ADMIN, DUPLICATE, RECEIVED, Cause, Lifecycle
from gateway.store import Document, document_summary
from gateway.web import (
    DB,
    DOCUMENT,
    FORWARDER,
    LIFECYCLE,
    Problem,
    document_or_404,
    operation,
    read_json,
    require,
)


@operation(
    "Release a duplicate as an original (it is forwarded; history records who and why)",
    tag="admin",
    scope="admin",
    body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
    responses={200: DOCUMENT},
    errors=(400, 404, 409, 422),
)
async def mark_original(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    payload = await read_json(request)
    reason = payload.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Problem(422, "reason-required", 'Say why: send {"reason": "..."}.')
    forwarder = request.app[FORWARDER]
    async with request.app[DB].write() as s:
        doc = await document_or_404(s, request.match_info["id"], principal.tenant, for_update=True)
        was = await release_duplicate(
            s, doc, request.app[LIFECYCLE], forwarder, principal.cause("admin", ADMIN), reason
        )
    forwarder.wake()
    body = document_summary(doc)
    body["was_duplicate_of"] = was
    return web.json_response(body)


async def release_duplicate(
    session: AsyncSession,
    doc: Document,
    lifecycle: Lifecycle,
    forwarder: Forwarder,
    cause: Cause,
    reason: str,
) -> str | None:
    """Make the duplicate ``doc`` (loaded for update) an original and queue its forwarding;
    returns the id it duplicated. The API and the console both release through here; call
    ``forwarder.wake()`` after the commit."""
    if doc.status != DUPLICATE:
        raise Problem(
            409,
            "not-a-duplicate",
            f"Only duplicates can be marked as original; this document is {doc.status}.",
            current_status=doc.status,
        )
    if not reason.strip():
        raise Problem(422, "reason-required", 'Say why: send {"reason": "..."}.')
    was = doc.duplicate_of
    await lifecycle.move(
        session,
        doc,
        RECEIVED,
        cause,
        reason=f"marked as original (was duplicate of {was}): {reason.strip()}",
        status_reason=f"released by admin; was duplicate of {was}",
    )
    doc.duplicate_of = None
    await forwarder.enqueue(session, doc)
    return was
