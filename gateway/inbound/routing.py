"""Routing stranded documents: giving a tenant to a document that intake stored without one.

Intake stores what no tenant owns (``unroutable``, or an unparseable mail attachment with no
recognisable buyer) so that nothing accepted is lost. Two ways give such a document a tenant:

- ``gateway participants add`` routes the unroutable documents addressed to the new
  participant id by itself (:func:`route_for_participant`);
- an operator key routes one document explicitly (``POST /v1/admin/documents/{id}/route``).

Routing applies the same rules as intake would have: an unroutable document becomes the
tenant's original (``received``, claims taken, forwarded) or, when the tenant already holds the
same bytes or business key, a ``duplicate`` of that original. Other statuses (e.g. ``invalid``)
keep their status and only gain the tenant. Every routing leaves a history row naming who did
it. Routing says who *received* a document, never who sent it: counterpart statuses in it
(Invoice Responses) still need their own proof before they are applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.inbound.intake import ForwardingHook, claims_of
from gateway.lifecycle import DUPLICATE, RECEIVED, UNROUTABLE, Cause, Lifecycle
from gateway.store import Document, Tenant, repo


class RoutingRefused(Exception):
    """The document cannot be routed (``code`` is the problem code, ``str()`` the reason)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Routed:
    document_id: str
    tenant: str
    previous: str
    status: str
    duplicate_of: str | None


async def route_document(
    session: AsyncSession,
    doc: Document,
    tenant: str,
    *,
    lifecycle: Lifecycle,
    forwarding: ForwardingHook | None,
    cause: Cause,
    reason: str,
) -> Routed:
    """Give ``doc`` (which has no tenant) to ``tenant`` inside the caller's transaction."""
    if doc.tenant is not None:
        raise RoutingRefused(
            "already-routed", f"Document {doc.id} already belongs to tenant {doc.tenant}."
        )
    if await session.get(Tenant, tenant) is None:
        raise RoutingRefused("unknown-tenant", f"There is no tenant {tenant!r}.")
    previous = doc.status
    doc.tenant = tenant
    note = f"routed to tenant {tenant}: {reason}"
    if previous != UNROUTABLE:
        await lifecycle.note(session, doc, cause, note)
        return Routed(doc.id, tenant, previous, previous, None)
    claims = claims_of(doc.tenant, doc.sha256, doc.business_key)
    found = await repo.find_claim(session, tenant, doc.direction, claims)
    if found is not None:
        original, kind = found
        why = "same bytes" if kind == "sha256" else "same business key"
        doc.duplicate_of = original
        await lifecycle.move(
            session,
            doc,
            DUPLICATE,
            cause,
            reason=f"{note}; {why}",
            status_reason=f"duplicate of {original} ({why})",
        )
        return Routed(doc.id, tenant, previous, DUPLICATE, original)
    await lifecycle.move(session, doc, RECEIVED, cause, reason=note, status_reason=note)
    repo.add_claims(session, doc, claims)
    if forwarding is not None:
        await forwarding.enqueue(session, doc)
    return Routed(doc.id, tenant, previous, RECEIVED, None)


async def route_for_participant(
    session: AsyncSession,
    tenant: str,
    participant: str,
    *,
    lifecycle: Lifecycle,
    forwarding: ForwardingHook | None,
    cause: Cause,
    limit: int = 10_000,
) -> list[Routed]:
    """Route every unroutable document addressed to ``participant`` (after it was added)."""
    pid = repo.normalise_participant(participant)
    ident = pid.partition(":")[2]
    # Stored as written in the document; compare case-insensitively like participant ids.
    rows = await session.scalars(
        select(Document)
        .where(Document.tenant.is_(None), Document.status == UNROUTABLE)
        .where(Document.receiver_endpoint.ilike(f"%{ident}"))
        .order_by(Document.seq)
        .limit(limit)
    )
    out = []
    for doc in list(rows):
        if _normalised(doc.receiver_endpoint) != pid:
            continue
        out.append(
            await route_document(
                session,
                doc,
                tenant,
                lifecycle=lifecycle,
                forwarding=forwarding,
                cause=cause,
                reason=f"participant {pid} added",
            )
        )
    return out


def _normalised(pid: str | None) -> str | None:
    try:
        return repo.normalise_participant(pid or "")
    except ValueError:
        return None
