"""Peppol reporting data: one row per exchanged message, and the export of a period.

Peppol's Transaction Statistics Report counts messages per (direction, other AP, document type,
process, C1 country / C4 country); the End User Statistics Report counts distinct end users
(C1 senders, C4 receivers) per document type, process and country. Both are derived from the
rows written here, so the exact report layouts (which Peppol revises) stay a pure export
concern: :func:`export` returns the rows and :func:`summarise` the TSR-style counts.

Countries: C1 comes from the SBDH ``COUNTRY_C1`` (inbound) or the seller's address (outbound).
C4 of a received document is the receiving end user's country, taken in this order
(:func:`receiver_country`; the row's ``c4_source`` says which):

1. ``participant``: the country registered for the receiving participant id
   (``PUT /v1/admin/reporting/countries {"participant": ..., "country": ...}``);
2. ``tenant``: the country registered for the tenant that serves it;
3. ``document``: the buyer's country in the document (UBL ``AccountingCustomerParty`` /
   CII ``BuyerTradeParty`` postal address);
4. ``config``: ``[as4] country`` - a guess, listed with ``?guessed=true`` by
   ``GET /v1/admin/reporting/c4-unknown``;
5. ``unknown`` (empty): listed by that API until an admin sets it (``admin``).

The SMP business card would be another source between 3 and 4, but the gateway does not read
business cards (nothing to look one up for our own participants), so it is not used.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from lxml import etree
from sqlalchemy import bindparam, select

from gateway.as4.models import PeppolEndUserCountry, PeppolReportRow
from gateway.documents import ParseLimits, XmlRefused, parse_xml
from gateway.store import Database

_UBL_COUNTRY = (
    "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}IdentificationCode"
)
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"

#: The columns of the export, in order.
COLUMNS = (
    "direction",
    "exchanged_at",
    "tenant",
    "document_id",
    "message_id",
    "sender_ap",
    "receiver_ap",
    "sender",
    "receiver",
    "document_type_id",
    "process_id",
    "country_c1",
    "country_c4",
    "kind",
)


def countries(document: bytes | etree._Element) -> tuple[str, str]:
    """(seller country, buyer country) of a UBL or CII document (its bytes, or its root when
    the caller parsed it already); '' where it says nothing."""
    if isinstance(document, etree._Element):
        root = document
    else:
        try:
            root = parse_xml(document, ParseLimits(max_bytes=len(document) + 1)).getroot()
        except XmlRefused:
            return "", ""
    paths = (
        f"{{{_CAC}}}AccountingSupplierParty/{{{_CAC}}}Party/{{{_CAC}}}PostalAddress/{{{_CAC}}}Country/{_UBL_COUNTRY}",
        f"{{{_CAC}}}AccountingCustomerParty/{{{_CAC}}}Party/{{{_CAC}}}PostalAddress/{{{_CAC}}}Country/{_UBL_COUNTRY}",
        f".//{{{_RAM}}}SellerTradeParty/{{{_RAM}}}PostalTradeAddress/{{{_RAM}}}CountryID",
        f".//{{{_RAM}}}BuyerTradeParty/{{{_RAM}}}PostalTradeAddress/{{{_RAM}}}CountryID",
    )
    found = [(root.findtext(p) or "").strip().upper()[:2] for p in paths]
    return found[0] or found[2], found[1] or found[3]


#: Where a C4 came from, most trusted first (``admin`` is an explicit correction).
C4_SOURCES = ("admin", "participant", "tenant", "document", "config", "unknown")
#: Sources that are no more than a guess: registering a country replaces them.
C4_GUESSED = ("config", "unknown")


#: The receiving end user's registered country, the participant's before the tenant's
#: ("" sorts last descending), built once: a point read before the write transaction.
_REGISTERED = (
    select(PeppolEndUserCountry.participant, PeppolEndUserCountry.country)
    .where(
        PeppolEndUserCountry.tenant == bindparam("tenant"),
        # Two fixed parameters, not an expanding IN: that one was rendered anew per message
        # (44% of the point reads' CPU on the AS4 receive path).
        PeppolEndUserCountry.participant.in_([bindparam("tenant_level"), bindparam("participant")]),
        PeppolEndUserCountry.country != "",
    )
    .order_by(PeppolEndUserCountry.participant.desc())
    .limit(1)
)


async def registered_country(
    db: Database, tenant: str | None, participant: str
) -> tuple[str, str] | None:
    """(country, ``participant`` | ``tenant``) as registered for the receiving end user; None
    if neither is. A point read (:meth:`Database.first`) before the write transaction: as a
    statement of that transaction it cost ~1.5 ms of CPU inside the serial SQLite writer."""
    if tenant is None:
        return None
    key = participant.strip().lower()
    row = await db.first(_REGISTERED, {"tenant": tenant, "tenant_level": "", "participant": key})
    if row is None:
        return None
    return row.country, ("participant" if row.participant else "tenant")


def receiver_country(
    registered: tuple[str, str] | None, buyer_country: str | None, fallback: str = ""
) -> tuple[str, str]:
    """(C4 country, source) of a received document, in the order of the module docstring:
    ``registered`` (:func:`registered_country`), then the buyer's country as identification
    read it (``report.document["buyer"]["country"]``: the document is not parsed again)."""
    if registered is not None:
        return registered
    buyer = (buyer_country or "").strip().upper()[:2]
    if buyer:
        return buyer, "document"
    if fallback:
        return fallback.upper()[:2], "config"
    return "", "unknown"


def report_row(**values: Any) -> PeppolReportRow:
    """A row for the session of the caller (written with the receipt or the delivery)."""
    return PeppolReportRow(**report_values(**values))


def report_values(**values: Any) -> dict[str, Any]:
    """:func:`report_row`'s values, for a row inserted without the ORM
    (:func:`gateway.store.insert_at_commit`)."""
    values.setdefault("exchanged_at", dt.datetime.now(dt.UTC))
    values["country_c1"] = (values.get("country_c1") or "").upper()[:8]
    values["country_c4"] = (values.get("country_c4") or "").upper()[:8]
    return values


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    return value


async def export(
    db: Database,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """Rows exchanged in ``[start, end)`` (all when open), oldest first."""
    stmt = select(PeppolReportRow).order_by(PeppolReportRow.seq)
    if start is not None:
        stmt = stmt.where(PeppolReportRow.exchanged_at >= start)
    if end is not None:
        stmt = stmt.where(PeppolReportRow.exchanged_at < end)
    if tenant is not None:
        stmt = stmt.where(PeppolReportRow.tenant == tenant)
    async with db.read() as s:
        rows = list(await s.scalars(stmt))
    return [{c: _iso(getattr(r, c)) for c in COLUMNS} for r in rows]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """TSR-style counts and EUSR-style distinct end users of an :func:`export` result."""
    tsr: Counter[tuple[str, ...]] = Counter()
    senders: dict[tuple[str, ...], set[str]] = {}
    receivers: dict[tuple[str, ...], set[str]] = {}
    for r in rows:
        other_ap = r["sender_ap"] if r["direction"] == "inbound" else r["receiver_ap"]
        tsr[
            (
                r["direction"],
                other_ap,
                r["document_type_id"],
                r["process_id"],
                r["country_c1"],
                r["country_c4"],
            )
        ] += 1
        if r["kind"] != "business":
            continue
        key = (r["document_type_id"], r["process_id"], r["country_c1"], r["country_c4"])
        if r["direction"] == "outbound":
            senders.setdefault(key, set()).add(r["sender"])
        else:
            receivers.setdefault(key, set()).add(r["receiver"])
    return {
        "transactions": [
            {
                "direction": d,
                "other_ap": ap,
                "document_type_id": t,
                "process_id": p,
                "country_c1": c1,
                "country_c4": c4,
                "count": n,
            }
            for (d, ap, t, p, c1, c4), n in sorted(tsr.items())
        ],
        "end_users": [
            {
                "document_type_id": t,
                "process_id": p,
                "country_c1": c1,
                "country_c4": c4,
                "sending_end_users": len(senders.get(k, ())),
                "receiving_end_users": len(receivers.get(k, ())),
            }
            for k in sorted(set(senders) | set(receivers))
            for t, p, c1, c4 in [k]
        ],
    }


def parse_when(text: str | None) -> dt.datetime | None:
    """``2025-01-31`` or an ISO timestamp -> aware UTC datetime (None for empty)."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


__all__ = [
    "C4_GUESSED",
    "C4_SOURCES",
    "COLUMNS",
    "countries",
    "export",
    "parse_when",
    "receiver_country",
    "registered_country",
    "report_row",
    "summarise",
]
