"""Reading a Peppol Invoice Response (T111) into the facts the gateway stores and acts on.

``gateway.documents.identify`` already names the parties and the response code; this adds what
only Invoice Responses have: status reason/action codes with their texts, conditions, notes,
the effective date and the responding party, so they can be stored with the status change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree

from gateway.documents import NS, ParseLimits, identify, parse_xml
from gateway.responses.mapping import PARTIAL_REASON, Mapping

CUSTOMIZATION_ID = "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
PROFILE_ID = "urn:fdc:peppol.eu:poacc:bis:invoice_response:3"
SCENARIO = "peppol-invoice-response-3"
#: Document type codes of credit notes (UNCL1001 subset used by Peppol BIS Billing).
CREDIT_NOTE_CODES = frozenset({"381", "396", "81", "83", "532"})


@dataclass
class StatusEntry:
    """One ``cac:Status``: a coded reason or action, free text, and conditions."""

    list_id: str | None
    code: str | None
    name: str | None  # the code's text from the mapping table
    reason: str | None  # cbc:StatusReason (free text)
    conditions: list[dict[str, str | None]] = field(default_factory=list)


@dataclass
class InvoiceResponse:
    imr_id: str
    issue_date: str | None
    issue_time: str | None
    sender: str | None  # endpoint "scheme:id" as written
    receiver: str | None
    response_code: str | None
    effective_date: str | None
    referenced_id: str | None
    referenced_type_code: str | None
    referenced_issue_date: str | None
    notes: list[str]
    statuses: list[StatusEntry]
    responding_party: dict[str, Any]
    recipient_party: dict[str, Any] | None = None

    @property
    def reason_codes(self) -> list[dict[str, str | None]]:
        return [
            {"code": s.code, "name": s.name}
            for s in self.statuses
            if s.code and s.list_id != "OPStatusAction"
        ]

    @property
    def action_codes(self) -> list[dict[str, str | None]]:
        return [
            {"code": s.code, "name": s.name}
            for s in self.statuses
            if s.code and s.list_id == "OPStatusAction"
        ]

    @property
    def partial(self) -> bool:
        """A status reason PPD (partially paid) is present."""
        return any(r["code"] == PARTIAL_REASON for r in self.reason_codes)

    def details(self) -> dict[str, Any]:
        """What is stored with the status change and shown by ``GET /v1/documents/{id}``."""
        return {
            "effective_date": self.effective_date,
            "reason_codes": self.reason_codes,
            "action_codes": self.action_codes,
            "statuses": [asdict(s) for s in self.statuses],
            "notes": self.notes,
            "responding_party": self.responding_party,
            "recipient_party": self.recipient_party,
        }


def is_invoice_response(customization_id: str | None) -> bool:
    return (customization_id or "").strip() == CUSTOMIZATION_ID


def parse_response(
    raw: bytes, mapping: Mapping, limits: ParseLimits | None = None
) -> InvoiceResponse:
    """Parse ``raw`` (already validated) with the gateway's safe XML parser."""
    tree = parse_xml(raw, limits or ParseLimits())
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    info = identify(root)
    resp = info.responses[0] if info.responses else {}
    doc_resp = root.find("cac:DocumentResponse", NS)
    response = doc_resp.find("cac:Response", NS) if doc_resp is not None else None
    statuses = []
    for st in response.findall("cac:Status", NS) if response is not None else []:
        code_el = st.find("cbc:StatusReasonCode", NS)
        code = _clean(code_el.text) if code_el is not None else None
        list_id = code_el.get("listID") if code_el is not None else None
        statuses.append(
            StatusEntry(
                list_id=list_id,
                code=code,
                name=mapping.describe(list_id, code) if code else None,
                reason=_text(st, "cbc:StatusReason"),
                conditions=[
                    {
                        "attribute": _text(c, "cbc:AttributeID"),
                        "description": _text(c, "cbc:Description"),
                    }
                    for c in st.findall("cac:Condition", NS)
                ],
            )
        )
    sender = root.find("cac:SenderParty", NS)
    recipient = doc_resp.find("cac:RecipientParty", NS) if doc_resp is not None else None
    return InvoiceResponse(
        imr_id=info.number or "",
        issue_date=info.issue_date,
        issue_time=_text(root, "cbc:IssueTime"),
        sender=info.sender.endpoint,
        receiver=info.receiver.endpoint,
        response_code=resp.get("response_code"),
        effective_date=_text(response, "cbc:EffectiveDate"),
        referenced_id=resp.get("document_id"),
        referenced_type_code=resp.get("document_type_code"),
        referenced_issue_date=resp.get("issue_date"),
        notes=[n.text.strip() for n in root.findall("cbc:Note", NS) if n.text and n.text.strip()],
        statuses=statuses,
        responding_party={
            "endpoint": info.sender.endpoint,
            "name": info.sender.name,
            "id": info.sender.party_id,
            "contact": _contact(sender),
        },
        recipient_party=_party(recipient),
    )


def _contact(party: etree._Element | None) -> dict[str, str | None] | None:
    contact = party.find("cac:Contact", NS) if party is not None else None
    if contact is None:
        return None
    return {
        "name": _text(contact, "cbc:Name"),
        "telephone": _text(contact, "cbc:Telephone"),
        "email": _text(contact, "cbc:ElectronicMail"),
    }


def _party(node: etree._Element | None) -> dict[str, Any] | None:
    if node is None:
        return None
    ident = node.find("cac:PartyIdentification/cbc:ID", NS)
    return {
        "id": _clean(ident.text) if ident is not None else None,
        "scheme": ident.get("schemeID") if ident is not None else None,
        "name": _text(node, "cac:PartyName/cbc:Name"),
    }


def _text(node: etree._Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path, NS)
    return _clean(found.text) if found is not None else None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None
