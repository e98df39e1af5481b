"""Receiving participant ids: add (routes the tenant's stranded documents), list, remove.

Adding is the service provider's act (CLI or operator key): a participant id decides whose
documents a tenant receives, and adding one hands the tenant the unroutable documents already
stored for it (:func:`gateway.inbound.routing.route_for_participant`, the same routing as
``POST /v1/admin/documents/{id}/route``). A tenant's admin may list and remove its own ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.errors import Refused, invalid, not_found
from gateway.inbound import ForwardingHook, Routed, route_for_participant
from gateway.lifecycle import Cause, Lifecycle
from gateway.store import Participant, iso, repo


@dataclass(frozen=True)
class Added:
    participant: dict[str, Any]
    routed: list[Routed]

    def view(self) -> dict[str, Any]:
        return {
            **self.participant,
            "routed": [
                {
                    "document_id": r.document_id,
                    "from_status": r.previous,
                    "to_status": r.status,
                    "duplicate_of": r.duplicate_of,
                }
                for r in self.routed
            ],
        }


def participant_view(row: Participant) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant": row.tenant,
        "created_at": iso(row.created_at),
    }


def normalised(pid: str) -> str:
    if not isinstance(pid, str):
        raise invalid("invalid-participant", "A participant id is a string SCHEME:ID.")
    try:
        return repo.normalise_participant(pid)
    except ValueError as exc:
        raise invalid("invalid-participant", str(exc)) from exc


async def add_participant(
    session: AsyncSession,
    tenant: str,
    pid: str,
    *,
    lifecycle: Lifecycle,
    forwarding: ForwardingHook | None,
    cause: Cause,
) -> Added:
    """Route documents for ``pid`` to ``tenant`` (created if new) and hand it the stranded
    documents addressed to ``pid``, inside the caller's transaction."""
    key = normalised(pid)
    existing = await session.get(Participant, key)
    if existing is not None and existing.tenant != tenant:
        raise Refused(
            409, "participant-taken", f"{key} already belongs to tenant {existing.tenant}."
        )
    row = await repo.add_participant(session, tenant, key)
    routed = await route_for_participant(
        session, row.tenant, row.id, lifecycle=lifecycle, forwarding=forwarding, cause=cause
    )
    return Added(participant_view(row), routed)


async def list_participants(
    session: AsyncSession, tenant: str | None = None
) -> list[dict[str, Any]]:
    return [participant_view(p) for p in await repo.list_participants(session, tenant)]


async def remove_participant(
    session: AsyncSession, pid: str, tenant: str | None = None
) -> dict[str, Any]:
    """Stop routing ``pid`` (only ``tenant``'s when given; another's is "not found")."""
    key = normalised(pid)
    row = await session.get(Participant, key)
    if row is None or (tenant is not None and row.tenant != tenant):
        raise not_found("participant", key)
    view = participant_view(row)
    await session.delete(row)
    return view
