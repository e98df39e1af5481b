"""Wiring of the Flow API into the app: routes under the standard's server path, the
separate-API registration (its error body, its public paths, out of our description), and
the webhook events (lifecycle and intake listeners, the forwarder's delivery format)."""

from __future__ import annotations

from aiohttp import web

from gateway.france.flow import api, oauth, webhooks
from gateway.france.flow.errors import render
from gateway.france.flow.spec import BASE_PATH, TOKEN_PATH
from gateway.web import DB, FORWARDER, INTAKE, LIFECYCLE, add_api


def setup(app: web.Application) -> webhooks.FlowEvents:
    """Call after the France package's setup: its intake hook judges a received CDAR before
    the Flow API announces it."""
    v1 = f"{BASE_PATH}/v1"
    add_api(
        app,
        BASE_PATH,
        render,
        public=frozenset({f"{v1}/healthcheck", f"{BASE_PATH}/openapi.json", TOKEN_PATH}),
    )
    app.router.add_post(f"{v1}/flows", api.create_flow)
    app.router.add_post(f"{v1}/flows/search", api.search_flows)
    app.router.add_get(f"{v1}/flows/{{flowId}}", api.get_flow)
    app.router.add_get(f"{v1}/healthcheck", api.health)
    app.router.add_get(f"{v1}/webhooks", webhooks.list_webhooks)
    app.router.add_post(f"{v1}/webhooks", webhooks.create_webhook)
    app.router.add_delete(f"{v1}/webhooks/{{webhookUid}}", webhooks.delete_webhook)
    app.router.add_get(f"{BASE_PATH}/openapi.json", api.description)
    app.router.add_post(TOKEN_PATH, oauth.token)
    events = webhooks.FlowEvents(app[DB], app[LIFECYCLE], app[FORWARDER])
    events.attach(app[INTAKE])
    return events
