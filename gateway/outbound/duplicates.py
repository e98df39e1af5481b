"""The outbound duplicate guard: one sales invoice is sent once unless the client says otherwise.

The same invoice POSTed twice without an Idempotency-Key used to be delivered twice, and a later
Invoice Response then moved only one of the copies. A submission whose business key (document
kind, seller, number, issue date, payable amount, currency) and receiver match an earlier
original of the same tenant is refused with 409 ``duplicate-outbound`` naming the original,
unless the client marks it as a deliberate reissue (``?reissue=true``), which is sent and
remembers which original it reissues (``metadata.reissue_of``).

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


async def original_of(session: AsyncSession, tenant: str, claims: dict[str, str]) -> str | None:
    found = await repo.find_claim(session, tenant, "outbound", claims)
    return found[0] if found else None
