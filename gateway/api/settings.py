"""``GET|PUT /v1/admin/settings``: the tenant's lifecycle settings (admin).

Body ``{"status_profile": {"inbound": ID, "outbound": ID}, "webhook_content": bool}``; every
key is optional. Unknown profile ids answer 422 with the known ones. Other packages add their
own keys (:meth:`gateway.lifecycle.Lifecycle.add_setting`), e.g. ``email_trust``.
"""

from __future__ import annotations

from aiohttp import web

from gateway.store import repo
from gateway.web import DB, LIFECYCLE, OBJECT, Problem, operation, read_json, require

_USAGE = 'Send {"status_profile": {"inbound": ID, "outbound": ID}, "webhook_content": bool}.'


@operation(
    "The tenant's status profiles and webhook settings",
    tag="admin",
    scope="admin",
    responses={200: OBJECT},
)
async def get_settings(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    async with request.app[DB].read() as s:
        return web.json_response(await request.app[LIFECYCLE].settings(s, principal.tenant))


@operation(
    "Choose the tenant's status profiles and webhook bodies",
    tag="admin",
    scope="admin",
    body={
        "type": "object",
        "properties": {
            "status_profile": {
                "type": "object",
                "properties": {"inbound": {"type": "string"}, "outbound": {"type": "string"}},
            },
            "webhook_content": {"type": "boolean"},
            "email_trust": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "sender": {"type": "string"},
                        "participant": {"type": "string"},
                    },
                    "required": ["sender"],
                },
            },
        },
    },
    responses={200: OBJECT},
    errors=(400, 422),
)
async def put_settings(request: web.Request) -> web.Response:
    principal = require(request, "admin")
    payload = await read_json(request)
    profile = payload.get("status_profile", {})
    content = payload.get("webhook_content")
    lifecycle = request.app[LIFECYCLE]
    extra = {k: v for k, v in payload.items() if k in lifecycle.extra_settings}
    if (
        not isinstance(profile, dict)
        or set(profile) - {"inbound", "outbound"}
        or not all(isinstance(v, str) for v in profile.values())
        or (content is not None and not isinstance(content, bool))
        or set(payload) - {"status_profile", "webhook_content", *extra}
    ):
        raise Problem(422, "invalid-request", _USAGE)
    async with request.app[DB].write() as s:
        await repo.ensure_tenant(s, principal.tenant)
        try:
            out = await lifecycle.configure(
                s,
                principal.tenant,
                inbound=profile.get("inbound"),
                outbound=profile.get("outbound"),
                webhook_content=content,
                extra=extra,
            )
        except ValueError as exc:
            raise Problem(422, "invalid-setting", str(exc)) from exc
        except KeyError as exc:
            raise Problem(
                422, "unknown-profile", exc.args[0], known=sorted(lifecycle.profiles)
            ) from exc
    return web.json_response(out)
