"""Peppol Message Level Status (MLS 1.0, ``urn:peppol:edec:mls:1.0``): build, parse, and the
MLS_TO / MLS_TYPE rules for when a receiving access point must answer.

An MLS is an ordinary UBL ApplicationResponse sent over AS4 from the receiving AP (C3) back to
the sending AP (C2): AP = accepted and delivered, AB = accepted (blind, no delivery
confirmation), RE = rejected, with issue lines (SV syntax, BV business rule fatal, BW business
rule warning, FD failure of delivery). ``DocumentReference/ID`` is the SBDH InstanceIdentifier
of the message it answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from gateway.as4.sbdh import Sbdh
from gateway.documents import ParseLimits, parse_xml

AR = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CUSTOMIZATION_ID = "urn:peppol:edec:mls:1.0"
PROFILE_ID = "urn:peppol:edec:mls"
DOCUMENT_TYPE_ID = f"{AR}::ApplicationResponse##{CUSTOMIZATION_ID}::2.1"
PROCESS_ID = PROFILE_ID
#: Peppol Service Provider Identification Scheme ICD: MLS goes to "0242:<seat number>".
SPIS_ICD = "0242"
RESPONSE_CODES = ("AP", "AB", "RE")
REASON_CODES = ("SV", "BV", "BW", "FD")


class MlsError(ValueError):
    """Not an MLS document, or inconsistent values (e.g. RE without issues)."""


@dataclass
class MlsIssue:
    reason: str  # SV | BV | BW | FD
    description: str
    line_id: str = "NA"  # XPath of the faulty element or "NA"


@dataclass
class MlsStatus:
    response_code: str  # AP | AB | RE
    referenced_instance_id: str  # SBDH InstanceIdentifier of the answered message
    sender: str  # SPIS endpoint of the issuing AP, "0242:123456"
    receiver: str  # SPIS endpoint of the AP the MLS goes to
    description: str = ""
    issues: list[MlsIssue] = field(default_factory=list)
    id: str = field(default_factory=lambda: f"MLS-{uuid.uuid4()}")
    issued: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def accepted(self) -> bool:
        return self.response_code in ("AP", "AB")


def _endpoint(parent: etree._Element, tag: str, participant: str) -> None:
    scheme, _, value = participant.partition(":")
    party = etree.SubElement(parent, f"{{{CAC}}}{tag}")
    etree.SubElement(party, f"{{{CBC}}}EndpointID", schemeID=scheme).text = value


def build_mls(status: MlsStatus) -> bytes:
    """Serialise an MLS ApplicationResponse (validate it with scenario ``peppol-mls-1.0``)."""
    if status.response_code not in RESPONSE_CODES:
        raise MlsError(f"response code must be one of {RESPONSE_CODES}")
    if status.response_code == "RE" and not status.issues:
        raise MlsError("an RE status needs at least one issue line")
    for issue in status.issues:
        if issue.reason not in REASON_CODES:
            raise MlsError(f"issue reason must be one of {REASON_CODES}")
    root = etree.Element(f"{{{AR}}}ApplicationResponse", nsmap={None: AR, "cac": CAC, "cbc": CBC})

    def cbc(parent: etree._Element, tag: str, text: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{CBC}}}{tag}")
        el.text = text
        return el

    issued = status.issued.astimezone(UTC)
    cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    cbc(root, "ProfileID", PROFILE_ID)
    cbc(root, "ID", status.id)
    cbc(root, "IssueDate", issued.date().isoformat())
    cbc(root, "IssueTime", issued.strftime("%H:%M:%SZ"))
    _endpoint(root, "SenderParty", status.sender)
    _endpoint(root, "ReceiverParty", status.receiver)
    dr = etree.SubElement(root, f"{{{CAC}}}DocumentResponse")
    resp = etree.SubElement(dr, f"{{{CAC}}}Response")
    cbc(resp, "ResponseCode", status.response_code)
    if status.description:
        cbc(resp, "Description", status.description)
    ref = etree.SubElement(dr, f"{{{CAC}}}DocumentReference")
    cbc(ref, "ID", status.referenced_instance_id)
    for issue in status.issues:
        lr = etree.SubElement(dr, f"{{{CAC}}}LineResponse")
        lref = etree.SubElement(lr, f"{{{CAC}}}LineReference")
        cbc(lref, "LineID", issue.line_id or "NA")
        lresp = etree.SubElement(lr, f"{{{CAC}}}Response")
        if issue.description:
            cbc(lresp, "Description", issue.description)
        st = etree.SubElement(lresp, f"{{{CAC}}}Status")
        cbc(st, "StatusReasonCode", issue.reason)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def parse_mls(data: bytes) -> MlsStatus:
    root = parse_xml(data, ParseLimits(max_bytes=5 * 1024 * 1024)).getroot()
    if (
        root.tag != f"{{{AR}}}ApplicationResponse"
        or (root.findtext(f"{{{CBC}}}CustomizationID") or "").strip() != CUSTOMIZATION_ID
    ):
        raise MlsError("not a Peppol MLS ApplicationResponse")

    def text(path: str) -> str:
        return (root.findtext(path, namespaces={"cac": CAC, "cbc": CBC}) or "").strip()

    def endpoint(tag: str) -> str:
        el = root.find(f"cac:{tag}/cbc:EndpointID", namespaces={"cac": CAC, "cbc": CBC})
        return f"{el.get('schemeID', '')}:{(el.text or '').strip()}" if el is not None else ""

    date, time_ = text("cbc:IssueDate"), text("cbc:IssueTime") or "00:00:00Z"
    try:
        issued = datetime.fromisoformat(f"{date}T{time_}".replace("Z", "+00:00"))
    except ValueError:
        issued = datetime.now(UTC)
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=UTC)
    issues = [
        MlsIssue(
            reason=(
                lr.findtext(
                    "cac:Response/cac:Status/cbc:StatusReasonCode",
                    namespaces={"cac": CAC, "cbc": CBC},
                )
                or ""
            ).strip(),
            description=(
                lr.findtext("cac:Response/cbc:Description", namespaces={"cac": CAC, "cbc": CBC})
                or ""
            ).strip(),
            line_id=(
                lr.findtext("cac:LineReference/cbc:LineID", namespaces={"cac": CAC, "cbc": CBC})
                or "NA"
            ).strip(),
        )
        for lr in root.iterfind("cac:DocumentResponse/cac:LineResponse", namespaces={"cac": CAC})
    ]
    code = text("cac:DocumentResponse/cac:Response/cbc:ResponseCode")
    if code not in RESPONSE_CODES:
        raise MlsError(f"unknown MLS response code {code!r}")
    return MlsStatus(
        response_code=code,
        referenced_instance_id=text("cac:DocumentResponse/cac:DocumentReference/cbc:ID"),
        sender=endpoint("SenderParty"),
        receiver=endpoint("ReceiverParty"),
        description=text("cac:DocumentResponse/cac:Response/cbc:Description"),
        issues=issues,
        id=text("cbc:ID"),
        issued=issued,
    )


def spis_id(seat_id: str) -> str:
    """``POP000123`` -> ``0242:000123`` (the participant id an AP receives MLS under)."""
    digits = "".join(ch for ch in seat_id if ch.isascii() and ch.isdigit())
    return f"{SPIS_ICD}:{digits}"


def mls_wanted(received: Sbdh, accepted: bool) -> bool:
    """Whether to send an MLS for a received message: always on failure; on success only
    when the sender asked with MLS_TYPE=ALWAYS_SEND. No MLS_TO -> nobody to send it to."""
    if not received.mls_to:
        return False
    if not accepted:
        return True
    return (received.mls_type or "FAILURE_ONLY").upper() == "ALWAYS_SEND"


def mls_sbdh(received: Sbdh, our_seat_id: str, country_c1: str) -> Sbdh:
    """The SBDH for an MLS answering ``received`` (from our SPIS id to its MLS_TO)."""
    if not received.mls_to:
        raise MlsError("the received message names no MLS_TO")
    return Sbdh(
        sender=spis_id(our_seat_id),
        receiver=received.mls_to,
        document_type_id=DOCUMENT_TYPE_ID,
        process_id=PROCESS_ID,
        instance_id=str(uuid.uuid4()),
        country_c1=country_c1,
    )


def is_mls(header: Sbdh) -> bool:
    """Whether a received message is an MLS (by its document type id's customization)."""
    return CUSTOMIZATION_ID in header.document_type_id


def outbound_state(status: MlsStatus) -> str:
    """The outbound document state an MLS implies: ``delivered_to_recipient`` or ``rejected_by_recipient``."""
    return "delivered_to_recipient" if status.accepted else "rejected_by_recipient"
