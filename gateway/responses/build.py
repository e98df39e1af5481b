"""The Peppol Invoice Response 3.0 (T111) the gateway sends, as XML: content in, bytes out.

:class:`ResponseContent` is everything a response says (built by
:class:`gateway.responses.emit.Emitter` from the invoice and the tenant's new status);
:func:`build_response` writes it as a UBL ApplicationResponse in schema order (validated with
``peppol-invoice-response-3`` before it is sent). Kept apart from the emitter: no database,
no sending; tests build responses with it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway.documents import NS, UBL_APPRESPONSE, Party
from gateway.responses.parse import CUSTOMIZATION_ID, PROFILE_ID

_CBC = f"{{{NS['cbc']}}}"
_CAC = f"{{{NS['cac']}}}"


@dataclass(frozen=True)
class ResponseContent:
    """Everything a T111 needs; built from the invoice and the new status."""

    imr_id: str
    issue_date: str
    code: str
    sender: Party  # the invoice's buyer
    receiver: Party  # the invoice's seller
    invoice_number: str
    invoice_type_code: str
    invoice_issue_date: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    effective_date: str | None = None


def build_response(c: ResponseContent) -> bytes:
    """Serialise a Peppol Invoice Response 3.0 (UBL ApplicationResponse) in schema order."""
    nsmap = {None: UBL_APPRESPONSE, "cac": NS["cac"], "cbc": NS["cbc"]}
    root = etree.Element(f"{{{UBL_APPRESPONSE}}}ApplicationResponse", nsmap=nsmap)
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", c.imr_id)
    _cbc(root, "IssueDate", c.issue_date)
    _party(root, "SenderParty", c.sender)
    _party(root, "ReceiverParty", c.receiver)
    doc_resp = etree.SubElement(root, _CAC + "DocumentResponse")
    response = etree.SubElement(doc_resp, _CAC + "Response")
    _cbc(response, "ResponseCode", c.code)
    if c.effective_date:
        _cbc(response, "EffectiveDate", c.effective_date)
    if c.reason_code or c.reason_text:
        status = etree.SubElement(response, _CAC + "Status")
        if c.reason_code:
            _cbc(status, "StatusReasonCode", c.reason_code, listID="OPStatusReason")
        if c.reason_text:
            _cbc(status, "StatusReason", c.reason_text)
    ref = etree.SubElement(doc_resp, _CAC + "DocumentReference")
    _cbc(ref, "ID", c.invoice_number)
    if c.invoice_issue_date:
        _cbc(ref, "IssueDate", c.invoice_issue_date)
    _cbc(ref, "DocumentTypeCode", c.invoice_type_code)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _cbc(parent: etree._Element, name: str, text: str, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, _CBC + name, attrs)
    el.text = text
    return el


def _party(parent: etree._Element, name: str, party: Party) -> None:
    node = etree.SubElement(parent, _CAC + name)
    scheme, _, ident = (party.endpoint or "").partition(":")
    _cbc(node, "EndpointID", ident, schemeID=scheme)
    legal = etree.SubElement(node, _CAC + "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name or party.endpoint or "unknown")
