"""The management API under ``/v1/admin``: tenants, participant ids, API keys, settings.

Small handlers over the management functions of :mod:`gateway.admin` (the CLI and the console
call the same functions); who may manage what is :mod:`gateway.admin.access`. Webhook routes
are in :mod:`gateway.admin.webhook_api`.
"""

from __future__ import annotations

from aiohttp import web

from gateway.admin import keys, participants, schemas, settings, tenants
from gateway.admin.access import (
    answers_refusals,
    body_of,
    managed_scope,
    managed_tenant,
    on_tenant,
    tenant_route,
)
from gateway.admin.errors import invalid
from gateway.lifecycle import ADMIN
from gateway.web import (
    DB,
    FORWARDER,
    INTAKE,
    KEY_CACHE,
    LIFECYCLE,
    OBJECT,
    field_text,
    operation,
    page_of,
    read_json,
    require,
    require_operator,
)

# --- tenants -----------------------------------------------------------------------------------


@operation(
    "Tenants (an operator sees all; a tenant admin its own)",
    tag="admin",
    scope="admin",
    responses={200: page_of(schemas.TENANT_ROW)},
)
async def list_tenants(request: web.Request) -> web.Response:
    only = managed_scope(request)
    async with request.app[DB].read() as s:
        rows = await tenants.list_tenants(s)
    items = [r for r in rows if only is None or r["name"] == only]
    return web.json_response({"items": items, "next_cursor": None})


@operation(
    "Create a tenant (operator)",
    tag="admin",
    scope="operator",
    body={"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    responses={201: schemas.TENANT_ROW},
    errors=(409, 413, 415, 422),
)
@answers_refusals
async def create_tenant(request: web.Request) -> web.Response:
    require_operator(request)
    payload = body_of(await read_json(request), {"name"})
    async with request.app[DB].write() as s:
        row = await tenants.create_tenant(s, payload.get("name"))  # type: ignore[arg-type]
    return web.json_response(row, status=201)


show_tenant = tenant_route(
    "A tenant: participant ids, keys (no secrets), webhook, settings",
    schemas.TENANT,
    lambda r, s, t: tenants.show_tenant(s, r.app[LIFECYCLE], t),
)


@operation(
    "Delete a tenant that never had documents (operator); its keys stop working",
    tag="admin",
    scope="operator",
    responses={200: {"type": "object", "required": ["deleted", "revoked_keys"]}},
    errors=(404, 409),
)
@answers_refusals
async def delete_tenant(request: web.Request) -> web.Response:
    name = request.match_info["tenant"]
    key_ids = await on_tenant(request, tenants.delete_tenant, write=True, operator_only=True)
    for key_id in key_ids:
        request.app[KEY_CACHE].forget(key_id)
    return web.json_response({"deleted": name, "revoked_keys": key_ids})


# --- participants ------------------------------------------------------------------------------


list_participants = tenant_route(
    "The tenant's receiving participant ids",
    schemas.PARTICIPANT,
    lambda r, s, t: participants.list_participants(s, t),
    listing=True,
)


@operation(
    "Add a participant id (operator); the tenant gets the stranded documents addressed to it",
    tag="admin",
    scope="operator",
    body={
        "type": "object",
        "required": ["participant"],
        "properties": {"participant": {"type": "string", "description": "SCHEME:ID"}},
    },
    responses={201: schemas.ADDED_PARTICIPANT},
    errors=(404, 409, 413, 415, 422),
)
@answers_refusals
async def add_participant(request: web.Request) -> web.Response:
    principal = await managed_tenant(request, operator_only=True)
    payload = body_of(await read_json(request), {"participant"})
    pid = field_text(payload, "participant", 300, required=True) or ""
    forwarder = request.app[FORWARDER]
    async with request.app[DB].write() as s:
        added = await participants.add_participant(
            s,
            request.match_info["tenant"],
            pid,
            lifecycle=request.app[LIFECYCLE],
            forwarding=forwarder,
            cause=principal.cause("participants", ADMIN),
        )
    forwarder.wake()
    for routed in added.routed:
        await request.app[INTAKE].routed(routed.document_id)
    return web.json_response(added.view(), status=201)


remove_participant = tenant_route(
    "Stop routing a participant id to the tenant",
    schemas.PARTICIPANT,
    lambda r, s, t: participants.remove_participant(s, r.match_info["participant"], t),
    write=True,
    errors=(404, 422),
)


# --- API keys ----------------------------------------------------------------------------------


list_keys = tenant_route(
    "The tenant's API keys (never the secrets)",
    schemas.KEY,
    lambda r, s, t: keys.list_keys(s, t),
    listing=True,
)


@operation(
    "Create an API key; the answer holds the secret, shown this once",
    tag="admin",
    scope="admin",
    body={
        "type": "object",
        "properties": {
            "scopes": {"type": "array", "items": {"type": "string", "enum": list(keys.SCOPES)}},
            "label": {"type": "string", "maxLength": 200},
            "operator": {"type": "boolean", "description": "operator keys only"},
        },
    },
    responses={201: schemas.NEW_KEY},
    errors=(404, 413, 415, 422),
)
@answers_refusals
async def create_key(request: web.Request) -> web.Response:
    principal = await managed_tenant(request)
    payload = body_of(await read_json(request), {"scopes", "label", "operator"})
    operator = payload.get("operator", False)
    if not isinstance(operator, bool):
        raise invalid("invalid-request", "operator must be true or false.")
    if operator and not principal.is_operator:
        raise keys.refuse_operator_grant()
    label = field_text(payload, "label", 200)
    scopes = payload.get("scopes", [])
    if not isinstance(scopes, list):
        raise invalid("invalid-scopes", "scopes must be a list.")
    async with request.app[DB].write() as s:
        new = await keys.create_key(
            s, request.match_info["tenant"], scopes, label, operator=operator
        )
    return web.json_response({"key": new.key, "secret": new.secret}, status=201)


@operation(
    "Revoke an API key; this server stops honouring it at once",
    tag="admin",
    scope="admin",
    responses={200: schemas.KEY},
    errors=(404,),
)
@answers_refusals
async def revoke_key(request: web.Request) -> web.Response:
    key_id = request.match_info["id"]
    row = await on_tenant(request, lambda s, t: keys.revoke_key(s, key_id, t), write=True)
    request.app[KEY_CACHE].forget(row["id"])
    return web.json_response(row)


# --- settings ----------------------------------------------------------------------------------


async def _settings(request: web.Request, tenant: str, payload: dict | None) -> web.Response:
    """Read (``payload`` None) or change the settings of ``tenant`` (access already checked)."""
    lifecycle = request.app[LIFECYCLE]
    if payload is None:
        async with request.app[DB].read() as s:
            return web.json_response(await settings.get_settings(s, lifecycle, tenant))
    async with request.app[DB].write() as s:
        return web.json_response(await settings.put_settings(s, lifecycle, tenant, payload))


@operation(
    "The tenant's status profiles and webhook settings",
    tag="admin",
    scope="admin",
    responses={200: OBJECT},
)
async def get_own_settings(request: web.Request) -> web.Response:
    return await _settings(request, require(request, "admin").tenant, None)


@operation(
    "Choose the tenant's status profiles and webhook bodies",
    tag="admin",
    scope="admin",
    body=schemas.SETTINGS_BODY,
    responses={200: OBJECT},
    errors=(413, 415, 422),
)
@answers_refusals
async def put_own_settings(request: web.Request) -> web.Response:
    tenant = require(request, "admin").tenant
    return await _settings(request, tenant, await read_json(request))


get_tenant_settings = tenant_route(
    "A tenant's status profiles and webhook settings",
    OBJECT,
    lambda r, s, t: settings.get_settings(s, r.app[LIFECYCLE], t),
)


@operation(
    "Choose a tenant's status profiles and webhook bodies",
    tag="admin",
    scope="admin",
    body=schemas.SETTINGS_BODY,
    responses={200: OBJECT},
    errors=(404, 413, 415, 422),
)
@answers_refusals
async def put_tenant_settings(request: web.Request) -> web.Response:
    await managed_tenant(request)
    return await _settings(request, request.match_info["tenant"], await read_json(request))
