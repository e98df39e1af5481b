"""Tenants: list, create, show and delete (management functions; see :mod:`gateway.admin`).

A tenant is deleted only while nothing but its keys, participant ids and settings refers to
it: documents, deliveries and reports keep their tenant for good (the history is append-only),
so a tenant that ever received or sent anything answers ``409 tenant-in-use``; revoke its keys
and remove its participant ids to retire it instead.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.errors import Refused, invalid, not_found
from gateway.admin.keys import key_view
from gateway.admin.webhooks import webhook_view
from gateway.lifecycle import Lifecycle
from gateway.store import ApiKey, Base, Participant, Tenant, iso, repo

#: Tenant names appear in URLs, labels and log lines: keep them plain.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: Rows that go with the tenant when it is deleted; any other reference keeps it.
_OWNED = ("api_keys", "participants", "lifecycle_settings", "invoice_response_settings")


async def get_tenant(session: AsyncSession, name: str) -> Tenant:
    row = await session.get(Tenant, name)
    if row is None:
        raise not_found("tenant", name)
    return row


async def list_tenants(session: AsyncSession) -> list[dict[str, Any]]:
    """Every tenant with its counts of participant ids and active keys (no secrets)."""
    keys = dict(
        (
            await session.execute(
                select(ApiKey.tenant, func.count())
                .where(ApiKey.revoked_at.is_(None))
                .group_by(ApiKey.tenant)
            )
        ).all()
    )
    parts = dict(
        (
            await session.execute(
                select(Participant.tenant, func.count()).group_by(Participant.tenant)
            )
        ).all()
    )
    rows = await session.scalars(select(Tenant).order_by(Tenant.name))
    return [
        {
            "name": t.name,
            "created_at": iso(t.created_at),
            "participants": int(parts.get(t.name, 0)),
            "active_keys": int(keys.get(t.name, 0)),
            "webhook_url": t.webhook_url,
        }
        for t in rows
    ]


async def create_tenant(session: AsyncSession, name: str) -> dict[str, Any]:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise invalid(
            "invalid-tenant",
            "A tenant name is 1-100 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit.",
        )
    if await session.get(Tenant, name) is not None:
        raise Refused(409, "tenant-exists", f"Tenant {name} exists already.")
    row = await repo.ensure_tenant(session, name)
    return {"name": row.name, "created_at": iso(row.created_at)}


async def show_tenant(session: AsyncSession, lifecycle: Lifecycle, name: str) -> dict[str, Any]:
    """One tenant: participant ids, keys (never secrets), webhook and lifecycle settings."""
    row = await get_tenant(session, name)
    settings = await lifecycle.settings(session, name)
    return {
        "name": row.name,
        "created_at": iso(row.created_at),
        "participants": [p.id for p in await repo.list_participants(session, name)],
        "keys": [key_view(k) for k in await repo.list_api_keys(session, name)],
        "webhook": webhook_view(row),
        "settings": {k: v for k, v in settings.items() if k != "tenant"},
    }


async def delete_tenant(session: AsyncSession, name: str) -> list[str]:
    """Delete an unused tenant with its keys, participant ids and settings; returns the ids of
    the keys that went with it (a running server forgets them at once)."""
    await get_tenant(session, name)
    tenants = Base.metadata.tables["tenants"]
    users = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is tenants and table.name not in _OWNED:
                n = await session.scalar(
                    select(func.count()).select_from(table).where(fk.parent == name)
                )
                if n:
                    users.append(table.name)
    if users:
        raise _in_use(name, sorted(set(users)))
    key_ids = list(await session.scalars(select(ApiKey.id).where(ApiKey.tenant == name)))
    try:
        async with session.begin_nested():  # a table this process has not loaded still counts
            for table_name in _OWNED:
                table = Base.metadata.tables.get(table_name)
                if table is not None:
                    await session.execute(delete(table).where(table.c.tenant == name))
            await session.execute(delete(Tenant).where(Tenant.name == name))
    except IntegrityError as exc:
        raise _in_use(name, ["other tables"]) from exc
    return key_ids


def _in_use(name: str, users: list[str]) -> Refused:
    return Refused(
        409,
        "tenant-in-use",
        f"Tenant {name} has rows in {', '.join(users)}; it cannot be deleted. "
        "Revoke its keys and remove its participant ids to retire it.",
    )
