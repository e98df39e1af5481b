"""API keys: create (the secret is returned once), list (never secrets), revoke.

The secret is stored only as its SHA-256 (:func:`gateway.store.repo.create_api_key`). A
tenant's admin manages its own tenant's keys with tenant scopes; only an operator (or the CLI,
which acts as the service provider) mints ``operator`` keys. A revoked key stops working in
the server that revoked it at once (its key cache forgets it) and in other processes within
their cache time-to-live (5 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.errors import Refused, invalid, not_found
from gateway.store import ApiKey, iso, repo

SCOPES = repo.SCOPES
OPERATOR = repo.OPERATOR


@dataclass(frozen=True)
class NewKey:
    """A key just made: its listing and the plaintext secret (shown this once)."""

    key: dict[str, Any]
    secret: str


def key_view(key: ApiKey) -> dict[str, Any]:
    """What a listing shows of a key: never the secret, nor its hash."""
    return {
        "id": key.id,
        "tenant": key.tenant,
        "scopes": sorted(key.scope_set),
        "operator": OPERATOR in key.scope_set,
        "label": key.label,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
        "revoked": key.revoked_at is not None,
    }


async def create_key(
    session: AsyncSession,
    tenant: str,
    scopes: Sequence[str],
    label: str | None = None,
    *,
    operator: bool = False,
) -> NewKey:
    """Make a key for ``tenant`` (created if new) with tenant ``scopes`` and/or ``operator``."""
    if isinstance(scopes, str) or not all(isinstance(s, str) for s in scopes):
        raise invalid("invalid-scopes", f"scopes must be a list among {', '.join(SCOPES)}.")
    try:
        key, secret = await repo.create_api_key(session, tenant, scopes, label, operator=operator)
    except ValueError as exc:
        raise invalid("invalid-scopes", str(exc)) from exc
    return NewKey(key_view(key), secret)


async def list_keys(session: AsyncSession, tenant: str | None = None) -> list[dict[str, Any]]:
    """Keys of ``tenant`` (None: every tenant), oldest first, without secrets."""
    return [key_view(k) for k in await repo.list_api_keys(session, tenant)]


async def revoke_key(
    session: AsyncSession, key_id: str, tenant: str | None = None
) -> dict[str, Any]:
    """Revoke ``key_id`` (only one of ``tenant``'s when given; another's is "not found")."""
    key = await session.get(ApiKey, key_id.removeprefix(repo.KEY_PREFIX).split("_")[0])
    if key is None or (tenant is not None and key.tenant != tenant):
        raise not_found("API key", key_id)
    await repo.revoke_api_key(session, key.id)
    return key_view(key)


def refuse_operator_grant() -> Refused:
    return Refused(
        403, "forbidden", "Only an operator key can create keys with the operator scope."
    )
