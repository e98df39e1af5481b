"""Finding the sales invoice a received Invoice Response answers, inside one tenant only.

The response names the invoice by number (plus type code and, when given, issue date); its
sender must be the invoice's buyer and its receiver the invoice's seller, both read from the
stored invoice itself. Only the invoices of the tenant that *received* the response are looked
at: a response never reaches across tenants, whatever ids it claims.

Several copies of one invoice (deliberate reissues, ``POST /v1/outbound?reissue=true``) can
answer the same description. The choice is deterministic and recorded on the response: the
newest copy that reached the buyer (not queued, sending, retrying or failed), else the newest
copy; ``copies`` lists every candidate, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import ParseLimits, XmlRefused, identify, parse_xml
from gateway.responses import models as rm
from gateway.responses.models import InvoiceResponseRecord
from gateway.responses.parse import CREDIT_NOTE_CODES
from gateway.store import Document, repo

INVOICE_KINDS = ("Invoice", "CreditNote")
#: Transient state between matching and applying (never committed).
MATCHED = "matched"
#: Copies in these statuses have not reached the buyer (yet, or ever).
NOT_DELIVERED = frozenset({"queued", "sending", "retrying", "failed", "draft"})
COPY_RULE = "newest copy that reached the buyer, else the newest copy"


@dataclass
class Match:
    """The sales invoice a counterpart status concerns, or (None, the row's state, why)."""

    invoice: Document | None
    state: str
    detail: str | None
    #: Ids of every copy that matched (oldest first) when there was more than one.
    copies: list[str] = field(default_factory=list)


async def find_invoice(
    s: AsyncSession, rec: InvoiceResponseRecord, limits: ParseLimits, *, lock: bool
) -> Match:
    if rec.tenant is None:
        return Match(None, rm.UNMATCHED, "no tenant received this response; route it first")
    stmt = select(Document).where(
        Document.tenant == rec.tenant,
        Document.direction == "outbound",
        Document.number == rec.referenced_id,
        Document.kind.in_(INVOICE_KINDS),
    )
    if lock:
        stmt = stmt.with_for_update()
    wanted_kind = _kind_of(rec.referenced_type_code)
    ref_date = (rec.details or {}).get("referenced_issue_date")
    candidates = [
        d
        for d in await s.scalars(stmt.order_by(Document.seq.desc()).limit(50))
        if (wanted_kind is None or d.kind == wanted_kind)
        and (not ref_date or not d.issue_date or d.issue_date == ref_date)
    ]
    if not candidates:
        return Match(
            None, rm.UNMATCHED, f"no sales invoice {rec.referenced_id} of tenant {rec.tenant} (yet)"
        )
    parties = [(d, *await _parties(s, d, limits)) for d in candidates]
    matching = [d for d, seller, buyer in parties if seller == rec.receiver and buyer == rec.sender]
    if matching:
        return _choose(matching)
    same_seller = [b for _, sl, b in parties if sl == rec.receiver]
    if same_seller:
        return Match(
            None,
            rm.REFUSED,
            f"the response's sender {rec.sender} is not the buyer ({same_seller[0]}) of sales "
            f"invoice {rec.referenced_id}; nothing changed",
        )
    return Match(
        None,
        rm.REFUSED,
        f"the response's receiver {rec.receiver} is not the seller ({parties[0][1]}) of sales "
        f"invoice {rec.referenced_id}; nothing changed",
    )


def _choose(matching: list[Document]) -> Match:
    """``matching`` is newest first; see the module docstring for the rule."""
    if len(matching) == 1:
        return Match(matching[0], MATCHED, None)
    reached = [d for d in matching if d.status not in NOT_DELIVERED]
    chosen = (reached or matching)[0]
    copies = [d.id for d in reversed(matching)]
    return Match(
        chosen,
        MATCHED,
        f"matched copy {chosen.id} of {len(copies)} copies ({', '.join(copies)}): {COPY_RULE}",
        copies,
    )


async def _parties(
    s: AsyncSession, doc: Document, limits: ParseLimits
) -> tuple[str | None, str | None]:
    """(seller, buyer) endpoint ids of an invoice, read from the document itself."""
    raw, _ = await repo.get_raw(s, doc.id, None)
    try:
        info = identify(parse_xml(raw, limits))
    except XmlRefused:
        return normalise(doc.seller_id), normalise(doc.buyer_id)
    return normalise(info.seller.endpoint), normalise(info.buyer.endpoint)


def normalise(pid: str | None) -> str | None:
    if not pid:
        return None
    try:
        return repo.normalise_participant(pid)
    except ValueError:
        return pid.strip().lower()


def _kind_of(type_code: str | None) -> str | None:
    if not type_code:
        return None
    return "CreditNote" if type_code.strip() in CREDIT_NOTE_CODES else "Invoice"
