"""Credit notes that reference an invoice: linked both ways, and the invoice moves as the
tenant's profile says (``credit_note = "credited" | "canceled" | "refunded"``).

The reference is UBL ``cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID`` or CII
``ram:InvoiceReferencedDocument/ram:IssuerAssignedID``, matched against the sales invoices of
the credit note's own tenant (never another tenant's). A reference to an invoice the lifecycle
may not move (a draft, a paid one under ar-api, ...) is still linked, and the history says why
the status stayed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import NS, XmlRefused, parse_xml
from gateway.lifecycle.cause import Cause
from gateway.lifecycle.model import IllegalTransition
from gateway.lifecycle.tables import DocumentLink
from gateway.lifecycle.vocabulary import SYSTEM
from gateway.store import Document

if TYPE_CHECKING:
    from gateway.lifecycle.mover import Lifecycle

CREDITS = "credits"
_REFS = etree.XPath(
    "//cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()"
    " | //ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()",
    namespaces=NS,
)


def referenced_invoices(raw: bytes) -> list[str]:
    try:
        tree = parse_xml(raw)
    except XmlRefused:
        return []
    return list(dict.fromkeys(str(r).strip() for r in _REFS(tree) if str(r).strip()))


async def link(lifecycle: Lifecycle, session: AsyncSession, credit: Document) -> list[str]:
    """Link an issued credit note to the invoices it references; returns their ids."""
    raw = await session.scalar(select(Document.raw).where(Document.id == credit.id))
    numbers = referenced_invoices(raw or b"")
    if not numbers or credit.tenant is None:
        return []
    invoices = list(
        await session.scalars(
            select(Document).where(
                Document.tenant == credit.tenant,
                Document.direction == "outbound",
                Document.kind == "Invoice",
                Document.number.in_(numbers),
            )
        )
    )
    prof = await lifecycle.profile(session, credit.tenant, "outbound")
    cause = Cause("credit-note", SYSTEM, actor=f"credit-note:{credit.id}", tenant=credit.tenant)
    for invoice in invoices:
        session.add(DocumentLink(document_id=credit.id, target_id=invoice.id, kind=CREDITS))
        why = f"credit note {credit.number} ({credit.id}) references it"
        try:
            await lifecycle.move(session, invoice, prof.credit_note, cause, reason=why)
        except IllegalTransition as exc:
            await lifecycle.note(session, invoice, cause, f"{why}; status kept: {exc.reason}")
    return [i.id for i in invoices]


async def links_of(session: AsyncSession, doc_id: str) -> dict[str, list[str]]:
    """``credited_by`` (credit notes of an invoice) and ``credits`` (invoices of a note)."""
    rows = list(
        await session.execute(
            select(DocumentLink.document_id, DocumentLink.target_id).where(
                (DocumentLink.document_id == doc_id) | (DocumentLink.target_id == doc_id)
            )
        )
    )
    return {
        "credits": [t for d, t in rows if d == doc_id],
        "credited_by": [d for d, t in rows if t == doc_id],
    }
