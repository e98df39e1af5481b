"""Tenants: participants, API keys (never their secrets), webhook, status profile.

An operator sees every tenant (or the one switched to); a tenant admin its own.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.console.guard import viewer
from gateway.console.render import page
from gateway.store import Tenant, repo
from gateway.store.serialize import iso
from gateway.web import DB, LIFECYCLE


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/tenants", show)


async def _tenant(s: Any, lifecycle: Any, row: Tenant) -> dict[str, Any]:
    keys = await repo.list_api_keys(s, row.name)
    return {
        "name": row.name,
        "created_at": iso(row.created_at),
        "webhook_url": row.webhook_url,
        "webhook_secret_set": bool(row.webhook_secret),
        "participants": [p.id for p in await repo.list_participants(s, row.name)],
        "api_keys": [
            {
                "id": k.id,
                "scopes": sorted(k.scope_set),
                "label": k.label,
                "created_at": iso(k.created_at),
                "revoked_at": iso(k.revoked_at),
            }
            for k in keys
        ],
        "settings": await lifecycle.settings(s, row.name),
    }


async def show(request: web.Request) -> web.Response:
    v = viewer(request)
    lifecycle = request.config_dict[LIFECYCLE]
    stmt = select(Tenant).order_by(Tenant.name)
    if v.tenant is not None:
        stmt = stmt.where(Tenant.name == v.tenant)
    async with request.config_dict[DB].read() as s:
        rows = list(await s.scalars(stmt))
        tenants = [await _tenant(s, lifecycle, row) for row in rows]
    return page(request, "tenants.html", {"tenants": tenants})
