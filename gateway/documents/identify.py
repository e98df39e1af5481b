"""Identification: what a document is and the business facts every later step needs.

Routing, duplicate detection and status mapping all work from this one summary, so it is
computed once per document from the parsed tree (cheap lxml lookups, no Saxon).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from lxml import etree

UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDITNOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
UBL_APPRESPONSE = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
#: UN/CEFACT Cross Domain Acknowledgement and Response: France's lifecycle messages (CDV).
CDAR = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "rsm": CII,
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "cdar": CDAR,
}

_UBL_ROOTS = {
    UBL_INVOICE: "Invoice",
    UBL_CREDITNOTE: "CreditNote",
    UBL_APPRESPONSE: "ApplicationResponse",
}


@dataclass
class Party:
    """A trading party as far as routing and duplicate detection need it."""

    endpoint: str | None = None  # "scheme:id" (Peppol participant id form)
    vat_id: str | None = None
    legal_id: str | None = None
    party_id: str | None = None
    name: str | None = None
    #: The postal address's country code as written (Peppol reporting's C1/C4 read it here,
    #: so a received document is not parsed again for it).
    country: str | None = None

    @property
    def key(self) -> str | None:
        """The most stable identifier available, used in business keys."""
        return self.endpoint or self.vat_id or self.legal_id or self.party_id or self.name


@dataclass
class DocumentInfo:
    """What identification found. Unknown values stay ``None``; nothing here is validated."""

    root_namespace: str
    root_name: str
    syntax: str  # "ubl" | "cii" | "cdar" | "unknown"
    #: Invoice | CreditNote | ApplicationResponse | CrossIndustryInvoice |
    #: CrossDomainAcknowledgementAndResponse | <root>
    doc_type: str
    customization_id: str | None = None
    profile_id: str | None = None
    number: str | None = None
    type_code: str | None = None
    issue_date: str | None = None
    due_date: str | None = None
    currency: str | None = None
    payable_amount: str | None = None
    seller: Party = field(default_factory=Party)
    buyer: Party = field(default_factory=Party)
    #: ApplicationResponse and CDAR: the sending / receiving party and the documents answered
    #: (CDAR: ``response_code`` is the lifecycle status, e.g. 205, with its ``status_code``).
    sender: Party = field(default_factory=Party)
    receiver: Party = field(default_factory=Party)
    responses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """Syntax-neutral document kind, so a UBL and a CII copy of one invoice compare equal."""
        if self.syntax == "cii":
            return "CreditNote" if self.type_code == "381" else "Invoice"
        return self.doc_type

    @property
    def sender_endpoint(self) -> str | None:
        return self.sender.endpoint or self.seller.endpoint

    @property
    def receiver_endpoint(self) -> str | None:
        return self.receiver.endpoint or self.buyer.endpoint

    def business_key(self) -> str | None:
        """Type + seller + number + issue date + amount + currency; None when too little is known."""
        seller = self.seller.key or self.sender.key
        if not (self.number and self.issue_date and seller):
            return None
        parts = [self.kind, seller, self.number, self.issue_date]
        parts += [self.payable_amount or "", self.currency or ""]
        return "|".join(p.strip() for p in parts)

    def to_dict(self) -> dict[str, Any]:
        """What ``dataclasses.asdict`` gives, built directly: it runs for every document, and
        ``asdict``'s generic recursion and deep copies cost more than identification itself."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in _INFO_FIELDS}
        for role in ("seller", "buyer", "sender", "receiver"):
            data[role] = dict(vars(data[role]))  # Party: flat, immutable values
        data["responses"] = copy.deepcopy(self.responses) if self.responses else []
        data["kind"] = self.kind
        data["business_key"] = self.business_key()
        data["sender_endpoint"] = self.sender_endpoint
        data["receiver_endpoint"] = self.receiver_endpoint
        return data


_INFO_FIELDS = fields(DocumentInfo)


def _text(node: etree._Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path, NS)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def _ubl_party(node: etree._Element | None) -> Party:
    if node is None:
        return Party()
    endpoint = node.find("cbc:EndpointID", NS)
    ep = None
    if endpoint is not None and endpoint.text and endpoint.text.strip():
        scheme = (endpoint.get("schemeID") or "").strip()
        ep = f"{scheme}:{endpoint.text.strip()}" if scheme else endpoint.text.strip()
    return Party(
        endpoint=ep,
        vat_id=_text(node, "cac:PartyTaxScheme/cbc:CompanyID"),
        legal_id=_text(node, "cac:PartyLegalEntity/cbc:CompanyID"),
        party_id=_text(node, "cac:PartyIdentification/cbc:ID"),
        name=_text(node, "cac:PartyLegalEntity/cbc:RegistrationName")
        or _text(node, "cac:PartyName/cbc:Name"),
        country=_text(node, "cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
    )


def _cii_party(node: etree._Element | None) -> Party:
    if node is None:
        return Party()
    uri = node.find("ram:URIUniversalCommunication/ram:URIID", NS)
    ep = None
    if uri is not None and uri.text and uri.text.strip():
        scheme = (uri.get("schemeID") or "").strip()
        ep = f"{scheme}:{uri.text.strip()}" if scheme else uri.text.strip()
    vat = None
    for reg in node.findall("ram:SpecifiedTaxRegistration/ram:ID", NS):
        if reg.get("schemeID") == "VA" and reg.text:
            vat = reg.text.strip()
    return Party(
        endpoint=ep,
        vat_id=vat,
        legal_id=_text(node, "ram:SpecifiedLegalOrganization/ram:ID"),
        party_id=_text(node, "ram:GlobalID") or _text(node, "ram:ID"),
        name=_text(node, "ram:Name"),
        country=_text(node, "ram:PostalTradeAddress/ram:CountryID"),
    )


def _identify_ubl(root: etree._Element, info: DocumentInfo) -> None:
    info.customization_id = _text(root, "cbc:CustomizationID")
    info.profile_id = _text(root, "cbc:ProfileID")
    info.number = _text(root, "cbc:ID")
    info.issue_date = _text(root, "cbc:IssueDate")
    info.currency = _text(root, "cbc:DocumentCurrencyCode")
    info.payable_amount = _text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount")
    if info.doc_type == "Invoice":
        info.type_code = _text(root, "cbc:InvoiceTypeCode")
        info.due_date = _text(root, "cbc:DueDate")
    elif info.doc_type == "CreditNote":
        info.type_code = _text(root, "cbc:CreditNoteTypeCode")
    if info.due_date is None:
        info.due_date = _text(root, "cac:PaymentMeans/cbc:PaymentDueDate")
    info.seller = _ubl_party(root.find("cac:AccountingSupplierParty/cac:Party", NS))
    info.buyer = _ubl_party(root.find("cac:AccountingCustomerParty/cac:Party", NS))
    if info.doc_type == "ApplicationResponse":
        info.sender = _ubl_party(root.find("cac:SenderParty", NS))
        info.receiver = _ubl_party(root.find("cac:ReceiverParty", NS))
        for resp in root.findall("cac:DocumentResponse", NS):
            ref = resp.find("cac:DocumentReference", NS)
            info.responses.append(
                {
                    "response_code": _text(resp, "cac:Response/cbc:ResponseCode"),
                    "document_id": _text(ref, "cbc:ID"),
                    "document_type_code": _text(ref, "cbc:DocumentTypeCode"),
                    "issue_date": _text(ref, "cbc:IssueDate"),
                }
            )


def _identify_cii(root: etree._Element, info: DocumentInfo) -> None:
    ctx = "rsm:ExchangedDocumentContext/"
    info.customization_id = _text(
        root, ctx + "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    )
    info.profile_id = _text(
        root, ctx + "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"
    )
    info.number = _text(root, "rsm:ExchangedDocument/ram:ID")
    info.type_code = _text(root, "rsm:ExchangedDocument/ram:TypeCode")
    info.issue_date = _cii_date(
        _text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
    )
    tx = root.find("rsm:SupplyChainTradeTransaction", NS)
    agreement = tx.find("ram:ApplicableHeaderTradeAgreement", NS) if tx is not None else None
    settlement = tx.find("ram:ApplicableHeaderTradeSettlement", NS) if tx is not None else None
    if agreement is not None:
        info.seller = _cii_party(agreement.find("ram:SellerTradeParty", NS))
        info.buyer = _cii_party(agreement.find("ram:BuyerTradeParty", NS))
    if settlement is not None:
        info.currency = _text(settlement, "ram:InvoiceCurrencyCode")
        info.payable_amount = _text(
            settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount"
        )
        info.due_date = _cii_date(
            _text(
                settlement, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
            )
        )


def _identify_cdar(root: etree._Element, info: DocumentInfo) -> None:
    """A CDAR lifecycle message (XP Z12-012): its emitter, recipients and the invoices whose
    status it gives. Dates in format 204 (CCYYMMDDHHMMSS) are reduced to the day."""
    ctx = "cdar:ExchangedDocumentContext/"
    info.customization_id = _text(
        root, ctx + "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    )
    info.profile_id = _text(
        root, ctx + "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"
    )
    doc = root.find("cdar:ExchangedDocument", NS)
    info.number = _text(doc, "ram:ID")
    info.issue_date = _cii_date(_text(doc, "ram:IssueDateTime/udt:DateTimeString"))
    info.sender = _cii_party(doc.find("ram:IssuerTradeParty", NS) if doc is not None else None)
    info.receiver = _cii_party(doc.find("ram:RecipientTradeParty", NS) if doc is not None else None)
    for ref in root.findall("cdar:AcknowledgementDocument/ram:ReferenceReferencedDocument", NS):
        info.responses.append(
            {
                "response_code": _text(ref, "ram:ProcessConditionCode"),
                "status_code": _text(ref, "ram:StatusCode"),
                "document_id": _text(ref, "ram:IssuerAssignedID"),
                "document_type_code": _text(ref, "ram:TypeCode"),
                "issue_date": _cii_date(
                    _text(ref, "ram:FormattedIssueDateTime/qdt:DateTimeString")
                ),
                "issuer": _text(ref, "ram:IssuerTradeParty/ram:GlobalID"),
            }
        )


def _cii_date(value: str | None) -> str | None:
    if value and value.isascii() and value.isdigit() and len(value) in (8, 12, 14):
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    return value


_REPORTING_ROOTS = {
    "urn:fdc:peppol:transaction-statistics-report:1.0": "TransactionStatisticsReport",
    "urn:fdc:peppol:end-user-statistics-report:1.1": "EndUserStatisticsReport",
}


def identify(tree: etree._ElementTree | etree._Element) -> DocumentInfo:
    """Summarise a parsed document. Never raises for unknown content: it reports what it saw."""
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    qname = etree.QName(root)
    ns, local = qname.namespace or "", qname.localname
    if ns in _UBL_ROOTS and local == _UBL_ROOTS[ns]:
        info = DocumentInfo(ns, local, "ubl", local)
        _identify_ubl(root, info)
    elif ns == CII and local == "CrossIndustryInvoice":
        info = DocumentInfo(ns, local, "cii", local)
        _identify_cii(root, info)
    elif ns == CDAR and local == "CrossDomainAcknowledgementAndResponse":
        info = DocumentInfo(ns, local, "cdar", local)
        _identify_cdar(root, info)
    elif _REPORTING_ROOTS.get(ns) == local:
        # Peppol TSR/EUSR: unqualified CustomizationID/ProfileID in the report's namespace.
        info = DocumentInfo(ns, local, "peppol-reporting", local)
        info.customization_id = (root.findtext(f"{{{ns}}}CustomizationID") or "").strip() or None
        info.profile_id = (root.findtext(f"{{{ns}}}ProfileID") or "").strip() or None
    else:
        info = DocumentInfo(ns, local, "unknown", local)
    return info
