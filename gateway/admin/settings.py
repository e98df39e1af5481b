"""A tenant's lifecycle settings: status profile per direction, webhook bodies.

``{"status_profile": {"inbound": ID, "outbound": ID}, "webhook_content": bool}``, every key
optional; an unknown profile id is ``422 unknown-profile`` naming the known ones. Other
packages add their own keys (:meth:`gateway.lifecycle.Lifecycle.add_setting`, e.g.
``email_trust``); a bad value of one is ``422 invalid-setting``. The lifecycle
stores and applies them (:meth:`gateway.lifecycle.Lifecycle.configure`); this is the one place
that checks what a caller sends, for ``PUT /v1/admin/settings``, the operator's per-tenant
route and ``gateway tenants set-profile``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.errors import Refused, invalid
from gateway.lifecycle import Lifecycle
from gateway.store import repo

USAGE = 'Send {"status_profile": {"inbound": ID, "outbound": ID}, "webhook_content": bool}.'


async def get_settings(session: AsyncSession, lifecycle: Lifecycle, tenant: str) -> dict[str, Any]:
    return await lifecycle.settings(session, tenant)


async def put_settings(
    session: AsyncSession, lifecycle: Lifecycle, tenant: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Apply ``payload`` (see the module docstring) to ``tenant`` (created if new)."""
    profile = payload.get("status_profile", {})
    content = payload.get("webhook_content")
    extra = {k: v for k, v in payload.items() if k in lifecycle.extra_settings}
    if (
        not isinstance(profile, dict)
        or set(profile) - {"inbound", "outbound"}
        or not all(isinstance(v, str) for v in profile.values())
        or (content is not None and not isinstance(content, bool))
        or set(payload) - {"status_profile", "webhook_content", *extra}
    ):
        raise invalid("invalid-request", USAGE)
    await repo.ensure_tenant(session, tenant)
    try:
        return await lifecycle.configure(
            session,
            tenant,
            inbound=profile.get("inbound"),
            outbound=profile.get("outbound"),
            webhook_content=content,
            extra=extra,
        )
    except ValueError as exc:
        raise invalid("invalid-setting", str(exc)) from exc
    except KeyError as exc:
        raise Refused(
            422, "unknown-profile", exc.args[0], known=sorted(lifecycle.profiles)
        ) from exc
