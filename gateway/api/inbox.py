"""``GET /v1/inbox?cursor=N``: the pull alternative to webhooks (see gateway.forwarding.inbox)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.documents import MAX_PAGE
from gateway.forwarding import inbox_acknowledge, inbox_page
from gateway.lifecycle import SYSTEM
from gateway.web import DB, LIFECYCLE, OBJECT, int_param, operation, require


@operation(
    "Pull inbox: documents to fetch; asking for the page after N acknowledges up to N",
    tag="documents",
    scope="read",
    responses={200: OBJECT},
    errors=(400,),
)
async def get_inbox(request: web.Request) -> web.Response:
    principal = require(request, "read")
    cursor = int_param(request.query.get("cursor", "0"), "cursor")
    limit = min(max(int_param(request.query.get("limit", "50"), "limit"), 1), MAX_PAGE)
    db = request.app[DB]
    if cursor:
        async with db.write() as s:
            cause = principal.cause("inbox", SYSTEM)  # the gateway forwards on its behalf
            await inbox_acknowledge(request.app[LIFECYCLE], s, principal.tenant, cursor, cause)
    async with db.read() as s:
        return web.json_response(await inbox_page(s, principal.tenant, cursor, limit))
