"""Webhook routes of the management API: show, set, clear, test, redeliver.

``PUT .../webhook`` answers the signing secret once; ``GET`` says only whether one is set.
``POST .../webhook/test`` sends a signed ``webhook.test`` event now and answers 200 with what
the receiver did (``delivered``, ``status``, ``error``): the test ran, whatever its outcome.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.admin import schemas, webhooks
from gateway.admin.access import (
    answers_refusals,
    body_of,
    managed_scope,
    managed_tenant,
    tenant_route,
)
from gateway.admin.tenants import get_tenant
from gateway.web import (
    DB,
    FORWARDER,
    LIFECYCLE,
    SETTINGS,
    field_text,
    not_found,
    number_id,
    operation,
    read_json,
)


async def _view(request: web.Request, session: Any, tenant: str) -> dict[str, Any]:
    return webhooks.webhook_view(await get_tenant(session, tenant))


get_webhook = tenant_route(
    "The tenant's webhook (URL, event types, whether a secret is set)", schemas.WEBHOOK, _view
)


@operation(
    "Set the tenant's webhook; the answer holds the signing secret, shown this once",
    tag="admin",
    scope="admin",
    body=schemas.WEBHOOK_BODY,
    responses={200: schemas.WEBHOOK_SET},
    errors=(404, 413, 415, 422),
    description="A URL whose host is, or resolves to, a loopback, private, link-local "
    "(metadata) or otherwise non-public address is refused (422 webhook-destination-refused) "
    "unless `[webhooks] allow_private_destinations` is on.",
)
@answers_refusals
async def set_webhook(request: web.Request) -> web.Response:
    await managed_tenant(request)
    payload = body_of(await read_json(request), {"url", "secret", "events"})
    url = field_text(payload, "url", 2000, required=True) or ""
    secret = field_text(payload, "secret", webhooks.MAX_SECRET)
    allow_private = request.app[SETTINGS].webhooks.allow_private_destinations
    await webhooks.vet_destination(url, allow_private=allow_private)
    async with request.app[DB].write() as s:
        body = await webhooks.set_webhook(
            s,
            request.match_info["tenant"],
            url,
            known=webhooks.known_events(request.app[LIFECYCLE]),
            secret=secret,
            events=payload.get("events"),
            allow_private=allow_private,
        )
    return web.json_response(body)


clear_webhook = tenant_route(
    "Stop webhook forwarding (the pull inbox stays)",
    schemas.WEBHOOK,
    lambda r, s, t: webhooks.clear_webhook(s, t),
    write=True,
)


@operation(
    "Send a signed test event to the webhook now and report the receiver's answer",
    tag="admin",
    scope="admin",
    responses={200: schemas.WEBHOOK_TEST},
    errors=(404, 409, 422),
)
@answers_refusals
async def test_webhook(request: web.Request) -> web.Response:
    await managed_tenant(request)
    hooks = request.app[SETTINGS].webhooks
    body = await webhooks.probe_webhook(
        request.app[DB],
        request.match_info["tenant"],
        timeout=hooks.timeout,
        allow_private=hooks.allow_private_destinations,
    )
    return web.json_response(body)


@operation(
    "Deliver a webhook event again (a new delivery; the old one keeps its attempts)",
    tag="admin",
    scope="admin",
    responses={202: schemas.REDELIVERY},
    errors=(404, 409),
)
@answers_refusals
async def redeliver(request: web.Request) -> web.Response:
    only = managed_scope(request)
    raw = request.match_info["id"]
    delivery = number_id(raw)
    if delivery is None:
        raise not_found("delivery", raw)
    async with request.app[DB].write() as s:
        body = await webhooks.redeliver(s, delivery, only)
    request.app[FORWARDER].wake(queued=True)
    return web.json_response(body, status=202)
