"""The outbound duplicate guard: one sales invoice is sent once unless the client says otherwise.

The same invoice POSTed twice without an Idempotency-Key used to be delivered twice, and a later
Invoice Response then moved only one of the copies. A submission whose business key (document
kind, seller, number, issue date, payable amount, currency) and receiver match an earlier
original of the same tenant is refused with 409 ``duplicate-outbound`` naming the original,
unless the client marks it as a deliberate reissue (``?reissue=true``), which is sent and
remembers which original it reissues (``metadata.reissue_of``).

Drafts are guarded too: creating one (``?draft=true``/``?send_at=``), replacing its content
(``PUT /v1/outbound/{id}/content``) and sending it (``POST .../send`` or the scheduler at
``send_at``) compare its business key with the tenant's sent originals. A draft holds no claim
(it may still change or be deleted); it takes one in the transaction that queues it. A scheduled
draft that turns out to duplicate an original stays a draft (``send_at`` cleared, the history
says why) instead of being sent twice.

The claim lives in ``document_claims`` (direction ``outbound``), so the database's primary key
decides a race between two submissions on SQLite and PostgreSQL alike; a reissue holds no
claim, so the original stays the one later submissions are compared with.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store import repo

KIND = "business-key"
#: Only invoices and credit notes are guarded (responses, MLS and reports have ids of their own).
GUARDED_KINDS = frozenset({"Invoice", "CreditNote"})


class DuplicateOutbound(Exception):
    def __init__(self, original_id: str) -> None:
        super().__init__(
            f"This invoice was already submitted as {original_id} (same seller, number, issue "
            "date, amount, currency and receiver). Send it again deliberately with "
            "?reissue=true, or use an Idempotency-Key to retry safely."
        )
        self.original_id = original_id


def claims_for(kind: str | None, business_key: str | None, receiver: str) -> dict[str, str]:
    """The claim an outbound original holds (none without a business key)."""
    if kind not in GUARDED_KINDS or not business_key:
        return {}
    return {KIND: repo.sha256_hex(f"{business_key}|{receiver.strip().lower()}")}


async def guard(
    session: AsyncSession,
    tenant: str,
    kind: str | None,
    business_key: str | None,
    receiver: str,
    *,
    reissue: bool,
) -> tuple[dict[str, str], str | None]:
    """(claims the submission takes, the original it deliberately reissues).

    Raises :class:`DuplicateOutbound` when another original of ``tenant`` holds the business key
    and ``reissue`` is false; a reissue takes no claim and names its original instead (the
    caller keeps that as ``meta.reissue_of``)."""
    claims = claims_for(kind, business_key, receiver)
    if not claims:
        return {}, None
    original = await original_of(session, tenant, claims)
    if original is None:
        return claims, None
    if not reissue:
        raise DuplicateOutbound(original)
    return {}, original


async def original_of(session: AsyncSession, tenant: str, claims: dict[str, str]) -> str | None:
    found = await repo.find_claim(session, tenant, "outbound", claims)
    return found[0] if found else None
