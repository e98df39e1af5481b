"""Tenant management from the console: the same functions as ``/v1/admin/tenants/...`` and the
CLI (:mod:`gateway.admin`). A tenant admin manages its own tenant (keys, webhook, status
profile); an operator every tenant, and creates tenants and assigns participant ids.

A new key's secret and a new webhook secret are shown once, on the page that answers the
form (never in a redirect URL, never stored); that page is not cached.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import admin
from gateway.console.actions import cause_of
from gateway.console.guard import Refused, acting, see_other
from gateway.console.keys import ROOT
from gateway.console.render import page
from gateway.console.sessions import Viewer
from gateway.web import DB, FORWARDER, INTAKE, KEY_CACHE, LIFECYCLE, SETTINGS, number_id

TENANTS = "/console/tenants"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/tenants/create", create_tenant)
    router.add_post("/tenants/{tenant}/keys", create_key)
    router.add_post("/tenants/{tenant}/keys/{key}/revoke", revoke_key)
    router.add_post("/tenants/{tenant}/participants", add_participant)
    router.add_post("/tenants/{tenant}/participants/remove", remove_participant)
    router.add_post("/tenants/{tenant}/webhook", set_webhook)
    router.add_post("/tenants/{tenant}/webhook/clear", clear_webhook)
    router.add_post("/tenants/{tenant}/webhook/test", test_webhook)
    router.add_post("/tenants/{tenant}/profile", set_profile)
    router.add_post("/documents/{id}/redeliver", redeliver)


def managed(request: web.Request, *, operator_only: bool = False) -> tuple[Viewer, str]:
    """The viewer and the tenant of the URL, if the viewer may manage it (404 otherwise, like
    the API: another tenant's name tells nothing)."""
    v = acting(request)
    tenant = request.match_info["tenant"]
    if operator_only and not v.is_operator:
        raise Refused(403, "Operators only", "Only an operator key can do this.")
    if not v.is_operator and tenant != v.key_tenant:
        raise Refused(404, "Not found", f"No tenant {tenant}.")
    return v, tenant


async def _form(request: web.Request) -> dict[str, Any]:
    form = await request.post()
    return {k: str(form.get(k, "")).strip() for k in form if k != "csrf"} | {
        "scopes": [str(x) for x in form.getall("scopes", [])]
    }


def _secret_page(
    request: web.Request, title: str, what: str, secret: str, tenant: str, note: str
) -> web.Response:
    ctx = {"title": title, "what": what, "secret": secret, "tenant": tenant, "note": note}
    return page(request, "secret.html", ctx)


async def create_tenant(request: web.Request) -> web.Response:
    v = acting(request)
    if not v.is_operator:
        raise Refused(403, "Operators only", "Only an operator key can create tenants.")
    name = (await _form(request)).get("name", "")
    async with request.app[ROOT][DB].write() as s:
        await admin.create_tenant(s, name)
    return see_other(f"{TENANTS}#tenant-{name}")


async def create_key(request: web.Request) -> web.Response:
    v, tenant = managed(request)
    form = await _form(request)
    operator = form.get("operator") == "on"
    if operator and not v.is_operator:
        raise Refused(403, "Not allowed", "Only an operator key can create operator keys.")
    async with request.app[ROOT][DB].write() as s:
        new = await admin.create_key(
            s, tenant, form["scopes"], form.get("label") or None, operator=operator
        )
    what = f"API key {new.key['id']} ({' '.join(new.key['scopes'])})"
    note = "The gateway keeps only its SHA-256."
    return _secret_page(request, "Key created", what, new.secret, tenant, note)


async def revoke_key(request: web.Request) -> web.Response:
    v, tenant = managed(request)
    key_id = request.match_info["key"]
    async with request.app[ROOT][DB].write() as s:
        row = await admin.revoke_key(s, key_id, None if v.is_operator else tenant)
    request.app[ROOT][KEY_CACHE].forget(row["id"])
    return see_other(f"{TENANTS}#tenant-{tenant}")


async def add_participant(request: web.Request) -> web.Response:
    v, tenant = managed(request, operator_only=True)
    pid = (await _form(request)).get("participant", "")
    root = request.app[ROOT]
    async with root[DB].write() as s:
        added = await admin.add_participant(
            s,
            tenant,
            pid,
            lifecycle=root[LIFECYCLE],
            forwarding=root[FORWARDER],
            cause=cause_of(v, "participants"),
        )
    root[FORWARDER].wake()
    for routed in added.routed:
        await root[INTAKE].routed(routed.document_id)
    return see_other(f"{TENANTS}#tenant-{tenant}")


async def remove_participant(request: web.Request) -> web.Response:
    _, tenant = managed(request, operator_only=True)
    pid = (await _form(request)).get("participant", "")
    async with request.app[ROOT][DB].write() as s:
        await admin.remove_participant(s, pid, tenant)
    return see_other(f"{TENANTS}#tenant-{tenant}")


async def set_webhook(request: web.Request) -> web.Response:
    _, tenant = managed(request)
    form = await _form(request)
    root = request.app[ROOT]
    events = [e for e in form.get("events", "").replace(",", " ").split() if e] or None
    allow_private = root[SETTINGS].webhooks.allow_private_destinations
    await admin.vet_destination(form.get("url", ""), allow_private=allow_private)
    async with root[DB].write() as s:
        body = await admin.set_webhook(
            s,
            tenant,
            form.get("url", ""),
            known=admin.known_events(root[LIFECYCLE]),
            events=events,
            allow_private=allow_private,
        )
    what = f"the signing secret of the webhook {body['url']}"
    note = "The gateway keeps it to sign deliveries and never shows it again."
    return _secret_page(request, "Webhook set", what, body["secret"], tenant, note)


async def clear_webhook(request: web.Request) -> web.Response:
    _, tenant = managed(request)
    async with request.app[ROOT][DB].write() as s:
        await admin.clear_webhook(s, tenant)
    return see_other(f"{TENANTS}#tenant-{tenant}")


async def test_webhook(request: web.Request) -> web.Response:
    _, tenant = managed(request)
    root = request.app[ROOT]
    hooks = root[SETTINGS].webhooks
    result = await admin.probe_webhook(
        root[DB], tenant, timeout=hooks.timeout, allow_private=hooks.allow_private_destinations
    )
    return page(request, "probe.html", {"tenant": tenant, "result": result})


async def set_profile(request: web.Request) -> web.Response:
    _, tenant = managed(request)
    form = await _form(request)
    profile = {k: form[k] for k in ("inbound", "outbound") if form.get(k)}
    root = request.app[ROOT]
    async with root[DB].write() as s:
        await admin.put_settings(s, root[LIFECYCLE], tenant, {"status_profile": profile})
    return see_other(f"{TENANTS}#tenant-{tenant}")


async def redeliver(request: web.Request) -> web.Response:
    """Queue a webhook delivery of this document again (``POST /v1/admin/.../redeliver``'s function)."""
    v = acting(request)
    doc_id = request.match_info["id"]
    raw = (await _form(request)).get("delivery", "")
    delivery = number_id(raw)
    if delivery is None:
        raise Refused(422, "Which delivery?", "Give the delivery's number.")
    root = request.app[ROOT]
    async with root[DB].write() as s:
        body = await admin.redeliver(s, delivery, None if v.is_operator else v.key_tenant)
        if body["document_id"] != doc_id:
            raise Refused(404, "Not found", f"No delivery {raw} of this document.")
    root[FORWARDER].wake()
    return see_other(f"/console/documents/{doc_id}")
