"""The "⋯" menu's actions: each a POST form (CSRF-checked by the guard) that calls the same
function as the API route, then goes back to the document page.

- Mark as original: ``gateway.admin.release_duplicate`` (``POST /v1/admin/documents/{id}/mark-original``)
- Change status: ``gateway.api`` ``set_status`` (``POST /v1/documents/{id}/status``)
- Requeue: the outbound queue's ``requeue`` (``POST /v1/admin/outbound/{id}/requeue``)
- Route (operators): ``gateway.admin.route_stranded`` (``POST /v1/admin/documents/{id}/route``)
"""

from __future__ import annotations

from aiohttp import web

from gateway.admin import release_duplicate, route_stranded
from gateway.api import set_status
from gateway.console.documents import scope_of
from gateway.console.guard import Refused, acting, see_other
from gateway.console.keys import PREFIX, ROOT
from gateway.console.sessions import Viewer
from gateway.console.signin import safe_next
from gateway.lifecycle import ADMIN, Cause
from gateway.outbound import OUTBOUND, NotRequeueable
from gateway.web import DB, FORWARDER, LIFECYCLE, document_or_404

MAX_REASON = 2000


def cause_of(v: Viewer, source: str = "console") -> Cause:
    """The signed-in key as the cause of a move (the history names tenant and key)."""
    return Cause(source, role=ADMIN, actor=f"key:{v.key_id}", tenant=v.key_tenant, key_id=v.key_id)


async def _form_text(request: web.Request, name: str, *, required: bool = False) -> str:
    value = str((await request.post()).get(name, "")).strip()
    if required and not value:
        raise Refused(422, f"{name.capitalize()} required", f"Give a {name}.")
    if len(value) > MAX_REASON or "\x00" in value:
        raise Refused(422, f"Bad {name}", f"The {name} is too long or holds a NUL character.")
    return value


async def _back(request: web.Request, doc_id: str) -> web.Response:
    """To the page the form names (a console path), else the document's page."""
    wanted = str((await request.post()).get("next", ""))
    return see_other(safe_next(wanted) if wanted else f"{PREFIX}/documents/{doc_id}")


async def mark_original(request: web.Request) -> web.Response:
    v = acting(request)
    reason = await _form_text(request, "reason", required=True)
    root = request.app[ROOT]
    forwarder = root[FORWARDER]
    doc_id = request.match_info["id"]
    async with root[DB].write() as s:
        doc = await document_or_404(s, doc_id, scope_of(v), for_update=True)
        await release_duplicate(s, doc, root[LIFECYCLE], forwarder, cause_of(v), reason)
    forwarder.wake()
    return await _back(request, doc_id)


async def change_status(request: web.Request) -> web.Response:
    v = acting(request)
    target = await _form_text(request, "status", required=True)
    reason = await _form_text(request, "reason") or None
    doc_id = request.match_info["id"]
    await set_status(request.app[ROOT], doc_id, scope_of(v), target, cause_of(v), reason)
    return await _back(request, doc_id)


async def requeue(request: web.Request) -> web.Response:
    v = acting(request)
    doc_id = request.match_info["id"]
    service = request.app[ROOT][OUTBOUND]
    if await service.queue.get(doc_id, scope_of(v)) is None:
        raise Refused(404, "Not found", "No outbound document with this id.")
    try:
        await service.queue.requeue(doc_id, actor=f"key:{v.key_id}", cause=cause_of(v))
    except NotRequeueable as exc:  # not failed (any more)
        raise Refused(409, "Not requeued", str(exc)) from exc
    return await _back(request, doc_id)


async def route(request: web.Request) -> web.Response:
    v = acting(request)
    if not v.is_operator:
        raise Refused(403, "Operators only", "Only an operator key can route a document.")
    tenant = await _form_text(request, "tenant", required=True)
    reason = await _form_text(request, "reason") or f"routed in the console by key {v.key_id}"
    doc_id = request.match_info["id"]
    await route_stranded(request.app[ROOT], doc_id, tenant, cause_of(v, "operator"), reason)
    return await _back(request, doc_id)
