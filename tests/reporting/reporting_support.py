"""A month of known Peppol traffic (kept out of conftest.py: ``from conftest import`` may resolve
to another folder's conftest when several test folders run together)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.as4 import report_row

INVOICE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
CREDIT = (
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote##urn:cen.eu:en16931:"
    "2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
MLS = "urn:peppol:edec:mls:1.0::ApplicationResponse##urn:peppol:edec:mls:1.0::2.1"
BILLING = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
MLS_PROCESS = "urn:peppol:edec:mls"


def at(day: int, month: int = 1, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


def inbound(when, sender_ap, receiver, doctype=INVOICE, c1="NO", c4="SE", kind="business"):
    return report_row(
        direction="inbound",
        tenant="acme",
        document_id=None,
        message_id=f"in-{when}-{receiver}",
        exchanged_at=when,
        sender_ap=sender_ap,
        receiver_ap="POP000001",
        sender="0192:999",
        receiver=receiver,
        document_type_id=doctype,
        process_id=MLS_PROCESS if kind == "mls" else BILLING,
        country_c1=c1,
        country_c4=c4,
        kind=kind,
    )


def outbound(when, receiver_ap, sender, doctype=INVOICE, c1="SE", c4="DE"):
    return report_row(
        direction="outbound",
        tenant="acme",
        document_id=None,
        message_id=f"out-{when}-{sender}",
        exchanged_at=when,
        sender_ap="POP000001",
        receiver_ap=receiver_ap,
        sender=sender,
        receiver="0088:777",
        document_type_id=doctype,
        process_id=BILLING,
        country_c1=c1,
        country_c4=c4,
    )


def traffic_rows() -> list[Any]:
    """January 2026: 6 in (4 invoices, 1 credit note, 1 MLS) and 4 out; December and February
    rows that must not be counted. Fresh ORM objects per call (one per database)."""
    return [
        inbound(at(2), "POP000002", "0007:1111"),
        inbound(at(3), "POP000002", "0007:1111"),
        inbound(at(4), "POP000002", "0007:2222", c1="DK"),
        inbound(at(5), "POP000003", "0007:3333", c4="FI"),
        inbound(at(6), "POP000002", "0007:1111", doctype=CREDIT),
        inbound(at(7), "POP000003", "POP000001", doctype=MLS, kind="mls"),
        outbound(at(8), "POP000002", "0007:1111"),
        outbound(at(9), "POP000002", "0007:1111"),
        outbound(at(10), "POP000004", "0007:4444", c1="NO"),
        outbound(at(11), "POP000002", "0007:1111", doctype=CREDIT),
        inbound(at(31, 12, 2025), "POP000002", "0007:9999"),
        outbound(at(1, 2), "POP000002", "0007:9999"),
    ]
