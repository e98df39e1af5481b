"""``GET /v1/inbox?cursor=N``: the pull alternative to webhooks (see gateway.forwarding.inbox)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.documents import MAX_PAGE
from gateway.forwarding import inbox_acknowledge, inbox_page
from gateway.lifecycle import SYSTEM
from gateway.web import DB, LIFECYCLE, OBJECT, Params, cursor, limit, operation, require

INBOX_PARAMS = Params(
    cursor("The last cursor processed: every item up to it is acknowledged."),
    limit(50, MAX_PAGE),
)


@operation(
    "Pull inbox: documents to fetch; asking for the page after N acknowledges up to N",
    tag="documents",
    scope="read",
    params=INBOX_PARAMS,
    responses={200: OBJECT},
    errors=(400,),
)
async def get_inbox(request: web.Request) -> web.Response:
    principal = require(request, "read")
    query = INBOX_PARAMS.parse(request)
    after, size = query["cursor"], query["limit"]
    db = request.app[DB]
    if after:
        async with db.write() as s:
            cause = principal.cause("inbox", SYSTEM)  # the gateway forwards on its behalf
            await inbox_acknowledge(request.app[LIFECYCLE], s, principal.tenant, after, cause)
    async with db.read() as s:
        return web.json_response(await inbox_page(s, principal.tenant, after, size))
