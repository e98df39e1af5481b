"""Route table of the management API (``/v1/admin``), mounted by the app factory."""

from __future__ import annotations

from aiohttp import web

from gateway.admin import api, webhook_api

TENANT = "/v1/admin/tenants/{tenant}"


def setup_admin(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/admin/tenants", api.list_tenants)
    r.add_post("/v1/admin/tenants", api.create_tenant)
    r.add_get(TENANT, api.show_tenant)
    r.add_delete(TENANT, api.delete_tenant)
    r.add_get(f"{TENANT}/participants", api.list_participants)
    r.add_post(f"{TENANT}/participants", api.add_participant)
    r.add_delete(f"{TENANT}/participants/{{participant}}", api.remove_participant)
    r.add_get(f"{TENANT}/keys", api.list_keys)
    r.add_post(f"{TENANT}/keys", api.create_key)
    r.add_delete(f"{TENANT}/keys/{{id}}", api.revoke_key)
    r.add_get(f"{TENANT}/settings", api.get_tenant_settings)
    r.add_put(f"{TENANT}/settings", api.put_tenant_settings)
    r.add_get("/v1/admin/settings", api.get_own_settings)
    r.add_put("/v1/admin/settings", api.put_own_settings)
    r.add_get(f"{TENANT}/webhook", webhook_api.get_webhook)
    r.add_put(f"{TENANT}/webhook", webhook_api.set_webhook)
    r.add_delete(f"{TENANT}/webhook", webhook_api.clear_webhook)
    r.add_post(f"{TENANT}/webhook/test", webhook_api.test_webhook)
    r.add_post("/v1/admin/deliveries/{id}/redeliver", webhook_api.redeliver)
