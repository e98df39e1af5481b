"""Writing a CDAR lifecycle message (XP Z12-012 "CDV", CDAR D22B) in schema order.

The layout follows the official examples (``corpus/france-cdar``): a status set by a party
(MDT-77 = 23) names that party as issuer (SIREN, role BY/SE) and the counterpart as recipient
with its electronic address; a platform's status (305: 202, 203, 213) names the platform by
role ``WK`` only. The copy of a mandatory status for the state platform (profile
``einvoicingF2``) names this platform as sender (scheme 0238) and the PPF (0238:0000, role
DFH) as the only recipient, as the ``_POUR_PPF`` examples do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from gateway.france.cdar import CDAR_NS, PROFILES, RAM
from gateway.france.codes import Code

QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": CDAR_NS, "ram": RAM, "qdt": QDT, "udt": UDT}
PROFILE, PPF_PROFILE = PROFILES
#: MDT-2: the business process of messages between platforms.
PROCESS = "REGULATED"
PLATFORM_ROLE, STATE_ROLE = "WK", "DFH"


@dataclass(frozen=True)
class Party:
    """A party of the header: a SIREN (scheme 0002) or a platform id (scheme 0238)."""

    id: str | None
    name: str | None
    role: str
    scheme: str = "0002"
    address: str | None = None  # electronic address (scheme 0225), for recipients


@dataclass(frozen=True)
class CdarContent:
    message_id: str
    issued_at: str  # CCYYMMDDHHMMSS (format 204)
    code: Code
    issuer: Party
    recipients: tuple[Party, ...]
    invoice_number: str
    invoice_type_code: str
    invoice_issue_date: str  # ISO date
    invoice_seller: str  # SIREN (MDT-129)
    sender: Party = field(default_factory=lambda: Party(None, None, PLATFORM_ROLE))
    reason_code: str | None = None
    reason_text: str | None = None
    #: 212 Encaissée: the amount cashed and the VAT rate (BR-FR-CDV-14).
    amount: str | None = None
    currency: str = "EUR"
    percent: str | None = None
    #: The copy for the state platform (profile einvoicingF2).
    for_state_platform: bool = False


def build_cdar(c: CdarContent) -> bytes:
    root = etree.Element(f"{{{CDAR_NS}}}CrossDomainAcknowledgementAndResponse", nsmap=NSMAP)
    ctx = _el(root, "rsm:ExchangedDocumentContext")
    if not c.for_state_platform:
        _el(_el(ctx, "ram:BusinessProcessSpecifiedDocumentContextParameter"), "ram:ID", PROCESS)
    profile = PPF_PROFILE if c.for_state_platform else PROFILE
    _el(_el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", profile)
    head = _el(root, "rsm:ExchangedDocument")
    _el(head, "ram:ID", c.message_id)
    _el(head, "ram:Name", f"{c.invoice_number}-CDV-{c.code.code}")
    _el(_el(head, "ram:IssueDateTime"), "udt:DateTimeString", c.issued_at, format="204")
    _party(head, "ram:SenderTradeParty", c.sender)
    _party(head, "ram:IssuerTradeParty", c.issuer)
    for recipient in c.recipients:
        _party(head, "ram:RecipientTradeParty", recipient)
    ack = _el(root, "rsm:AcknowledgementDocument")
    _el(_el(ack, "ram:MultipleReferencesIndicator"), "udt:Indicator", "false")
    _el(ack, "ram:TypeCode", c.code.type_code)
    _el(_el(ack, "ram:IssueDateTime"), "udt:DateTimeString", c.issued_at, format="204")
    ref = _el(ack, "ram:ReferenceReferencedDocument")
    _el(ref, "ram:IssuerAssignedID", c.invoice_number)
    if c.code.status_code:
        _el(ref, "ram:StatusCode", c.code.status_code)
    _el(ref, "ram:TypeCode", c.invoice_type_code)
    if c.for_state_platform:
        _el(ref, "ram:ReferenceTypeCode", PPF_PROFILE)
    date = c.invoice_issue_date.replace("-", "")
    _el(_el(ref, "ram:FormattedIssueDateTime"), "qdt:DateTimeString", date, format="102")
    _el(ref, "ram:ProcessConditionCode", c.code.code)
    _el(ref, "ram:ProcessCondition", c.code.label)
    _el(_el(ref, "ram:IssuerTradeParty"), "ram:GlobalID", c.invoice_seller, schemeID="0002")
    if c.reason_code or c.amount:
        status = _el(ref, "ram:SpecifiedDocumentStatus")
        if c.reason_code:
            _el(status, "ram:ReasonCode", c.reason_code)
            if c.reason_text:
                _el(status, "ram:Reason", c.reason_text)
        _el(status, "ram:SequenceNumeric", "1")
        if c.amount:
            ch = _el(status, "ram:SpecifiedDocumentCharacteristic")
            _el(ch, "ram:TypeCode", "MEN")
            _el(_el(ch, "ram:ValueChangedIndicator"), "udt:IndicatorString", "false")
            _el(ch, "ram:ValueAmount", c.amount, currencyID=c.currency)
            if c.percent:
                _el(ch, "ram:ValuePercent", c.percent)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _party(parent: etree._Element, tag: str, p: Party) -> None:
    node = _el(parent, tag)
    if p.id:
        _el(node, "ram:GlobalID", p.id, schemeID=p.scheme)
    if p.name:
        _el(node, "ram:Name", p.name)
    _el(node, "ram:RoleCode", p.role)
    if p.address:
        _el(_el(node, "ram:URIUniversalCommunication"), "ram:URIID", p.address, schemeID="0225")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    prefix, local = tag.split(":")
    node = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{local}", attrib)
    node.text = text
    return node
