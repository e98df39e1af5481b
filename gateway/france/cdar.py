"""Reading a CDAR lifecycle message (XP Z12-012 "CDV") into the facts the gateway acts on.

``gateway.documents.identify`` names the message and, per referenced invoice, its number, issue
date, type code and status code. This adds what only lifecycle messages have: who created the
status (MDT-38..40, a SIREN and a role, or just the role ``WK`` of a platform), the recipients,
the reason and action codes, amounts and rates (e.g. 212 Encaissée: MDT-224/MDT-207), notes.
Parties are named by SIREN (scheme 0002), as the messages name them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree

from gateway.documents import ParseLimits, identify, parse_xml

CDAR_NS = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
NS = {
    "rsm": CDAR_NS,
    "ram": RAM,
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
#: MDT-3 values of lifecycle messages (between platforms; the copy for the state platform).
PROFILES = ("urn.cpro.gouv.fr:1p0:CDV:invoice", "urn.cpro.gouv.fr:1p0:CDV:einvoicingF2")
SIREN_SCHEME = "0002"
#: The state platform (PPF data concentrator) as a recipient: scheme 0238, id 0000.
PPF = ("0238", "0000")


def is_cdar(customization_id: str | None) -> bool:
    return (customization_id or "").strip() in PROFILES


@dataclass
class Actor:
    """A party of the message header: a SIREN (or a platform id), a name, a role code."""

    id: str | None
    scheme: str | None
    name: str | None
    role: str | None

    @property
    def siren(self) -> str | None:
        return self.id if self.scheme == SIREN_SCHEME else None


@dataclass
class Characteristic:
    type_code: str | None  # MEN (amount cashed), DIV/DVA (wrong/right value), ...
    amount: str | None
    currency: str | None
    percent: str | None
    name: str | None = None


@dataclass
class CdarStatus:
    message_id: str
    issued_at: str | None  # MDT-8, CCYYMMDDHHMMSS as written
    profile: str | None
    issuer: Actor
    recipients: list[Actor]
    code: str | None  # MDT-105, e.g. 205
    status_code: str | None  # MDT-88
    type_code: str | None  # MDT-77: 305 | 23
    invoice_number: str | None  # MDT-87 (BT-1)
    invoice_type_code: str | None  # MDT-91 (BT-3)
    invoice_issue_date: str | None  # MDT-100 (BT-2), ISO date
    invoice_seller: str | None  # MDT-129: SIREN of the invoice's issuer
    reasons: list[dict[str, str | None]] = field(default_factory=list)
    actions: list[dict[str, str | None]] = field(default_factory=list)
    characteristics: list[Characteristic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def for_state_platform(self) -> bool:
        return any((r.scheme, r.id) == PPF for r in self.recipients)

    def details(self) -> dict[str, Any]:
        """What is stored with the record and shown in the invoice's lifecycle view."""
        return {
            "issuer": asdict(self.issuer),
            "recipients": [asdict(r) for r in self.recipients],
            "status_code": self.status_code,
            "type_code": self.type_code,
            "invoice_issue_date": self.invoice_issue_date,
            "invoice_seller": self.invoice_seller,
            "reasons": self.reasons,
            "actions": self.actions,
            "characteristics": [asdict(c) for c in self.characteristics],
            "notes": self.notes,
            "issued_at": self.issued_at,
        }


def parse_cdar(raw: bytes, limits: ParseLimits | None = None) -> CdarStatus:
    """Parse ``raw`` (already validated: XSD + BR-FR-CDV) with the gateway's safe parser."""
    tree = parse_xml(raw, limits or ParseLimits())
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    info = identify(root)
    ref_info = info.responses[0] if info.responses else {}
    head = root.find("rsm:ExchangedDocument", NS)
    ack = root.find("rsm:AcknowledgementDocument", NS)
    ref = ack.find("ram:ReferenceReferencedDocument", NS) if ack is not None else None
    status = CdarStatus(
        message_id=info.number or "",
        issued_at=_text(head, "ram:IssueDateTime/udt:DateTimeString"),
        profile=info.customization_id,
        issuer=_actor(head.find("ram:IssuerTradeParty", NS) if head is not None else None),
        recipients=[
            _actor(r)
            for r in (head.findall("ram:RecipientTradeParty", NS) if head is not None else [])
        ],
        code=ref_info.get("response_code"),
        status_code=ref_info.get("status_code"),
        type_code=_text(ack, "ram:TypeCode"),
        invoice_number=ref_info.get("document_id"),
        invoice_type_code=ref_info.get("document_type_code"),
        invoice_issue_date=ref_info.get("issue_date"),
        invoice_seller=ref_info.get("issuer"),
    )
    for st in ref.findall("ram:SpecifiedDocumentStatus", NS) if ref is not None else []:
        if code := _text(st, "ram:ReasonCode"):
            status.reasons.append({"code": code, "text": _text(st, "ram:Reason")})
        if code := _text(st, "ram:RequestedActionCode"):
            status.actions.append({"code": code, "text": _text(st, "ram:RequestedAction")})
        for ch in st.findall("ram:SpecifiedDocumentCharacteristic", NS):
            amount = ch.find("ram:ValueAmount", NS)
            status.characteristics.append(
                Characteristic(
                    type_code=_text(ch, "ram:TypeCode"),
                    amount=_clean(amount.text) if amount is not None else None,
                    currency=amount.get("currencyID") if amount is not None else None,
                    percent=_text(ch, "ram:ValuePercent"),
                    name=_text(ch, "ram:Name"),
                )
            )
        status.notes += [
            n
            for n in (_clean(c.text) for c in st.iterfind("ram:IncludedNote/ram:Content", NS))
            if n
        ]
    return status


def _actor(node: etree._Element | None) -> Actor:
    if node is None:
        return Actor(None, None, None, None)
    gid = node.find("ram:GlobalID", NS)
    return Actor(
        id=_clean(gid.text) if gid is not None else None,
        scheme=gid.get("schemeID") if gid is not None else None,
        name=_text(node, "ram:Name"),
        role=_text(node, "ram:RoleCode"),
    )


def _text(node: etree._Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path, NS)
    return _clean(found.text) if found is not None else None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


__all__ = ["PPF", "PROFILES", "Actor", "CdarStatus", "Characteristic", "is_cdar", "parse_cdar"]
