"""Tenants: participants, API keys (never their secrets), webhook, status profile, read through
:func:`gateway.admin.show_tenant` (what ``GET /v1/admin/tenants/{tenant}`` answers). The forms
that change them are in :mod:`.tenant_admin`.

An operator sees every tenant (or the one switched to); a tenant admin its own.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from gateway import admin
from gateway.console import tenant_admin
from gateway.console.guard import viewer
from gateway.console.render import page
from gateway.store import Tenant
from gateway.web import DB, LIFECYCLE


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/tenants", show)
    tenant_admin.add_routes(router)


async def show(request: web.Request) -> web.Response:
    v = viewer(request)
    lifecycle = request.config_dict[LIFECYCLE]
    names = [v.tenant] if v.tenant is not None else None
    async with request.config_dict[DB].read() as s:
        if names is None:
            names = list(await s.scalars(select(Tenant.name).order_by(Tenant.name)))
        tenants = []
        for name in names:
            shown = await admin.show_tenant(s, lifecycle, name)
            tenants.append({**shown, "api_keys": shown["keys"]})
    return page(
        request, "tenants.html", {"tenants": tenants, "profiles": sorted(lifecycle.profiles)}
    )
