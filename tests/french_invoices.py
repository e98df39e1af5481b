"""French invoices built from a real corpus document, for the France tests.

The CEN example 9 ("Licenses", ``ubl-tc434-example9.xml`` and its CII twin ``CII_example9.xml``)
is a Dutch invoice that passes EN 16931. :func:`french_invoice` turns it into an invoice a
French platform accepts (EN 16931 + BR-FR-Flux2 1.4.0.03, no finding at all) by changing only
what the French rules ask for:

- BT-23 business process type ``S1`` (a French "cadre de facturation");
- the three mandatory legal notes (BR-FR-05: ``#PMT#``, ``#PMD#``, ``#AAB#`` in UBL, subject
  codes PMT/PMD/AAB in CII);
- the seller's SIREN (BT-30, scheme 0002) and French VAT number built from it; both parties'
  electronic addresses (BT-34, BT-49) in scheme 0225 (SIREN);
- a French VAT rate (20 % instead of 21 %, BR-FR-16), with the tax and totals recomputed;
- French addresses (the parties are French companies now).

Keyword arguments choose the number, issue date, parties and rate, so duplicate and lifecycle
tests can build the invoices they need. The output is parsed and rewritten with lxml, never
concatenated: it stays a well-formed document in the corpus file's own layout.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from lxml import etree

UBL_SOURCE = "en16931-examples/ubl/ubl-tc434-example9.xml"
CII_SOURCE = "en16931-examples/cii/CII_example9.xml"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NS = {"cbc": CBC, "cac": CAC, "rsm": RSM, "ram": RAM, "udt": UDT}
#: SIRENs (9 digits, Luhn-valid) of the two French companies of the fixtures.
SELLER_SIREN = "732829320"
BUYER_SIREN = "552081317"
#: The Peppol / French directory scheme of an electronic address that is a SIREN.
SIREN_SCHEME = "0225"
NOTES = {
    "PMT": "Indemnité forfaitaire pour frais de recouvrement en cas de retard : 40 EUR.",
    "PMD": "Pénalités de retard : trois fois le taux d'intérêt légal.",
    "AAB": "Pas d'escompte pour paiement anticipé.",
}


def vat_number(siren: str) -> str:
    """The French VAT number of a SIREN (key = (12 + 3 x (SIREN mod 97)) mod 97)."""
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


def french_invoice(
    corpus: Path,
    syntax: str = "ubl",
    *,
    number: str = "F202500003",
    issue_date: str = "2025-04-01",
    seller_siren: str = SELLER_SIREN,
    buyer_siren: str = BUYER_SIREN,
    process_type: str = "S1",
    rate: str = "20",
) -> bytes:
    """A valid French invoice (``syntax`` ``ubl`` or ``cii``) built from CEN example 9."""
    source = UBL_SOURCE if syntax == "ubl" else CII_SOURCE
    tree = etree.parse(str(corpus / source))
    build = _ubl if syntax == "ubl" else _cii
    build(
        tree.getroot(),
        number=number,
        issue_date=issue_date,
        seller=seller_siren,
        buyer=buyer_siren,
        process_type=process_type,
        rate=Decimal(rate),
    )
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    prefix, local = tag.split(":")
    node = etree.SubElement(parent, f"{{{NS[prefix]}}}{local}", attrib)
    node.text = text
    return node


def _set(root: etree._Element, path: str, text: str) -> None:
    nodes = root.findall(path, NS)
    assert nodes, path
    for node in nodes:
        node.text = text


def _before(
    anchor: etree._Element, tag: str, text: str | None = None, **attrib: str
) -> etree._Element:
    prefix, local = tag.split(":")
    node = etree.Element(f"{{{NS[prefix]}}}{local}", attrib)
    node.text = text
    node.tail = anchor.tail
    anchor.addprevious(node)
    return node


# --- UBL -----------------------------------------------------------------------------------------


def _ubl(
    root: etree._Element,
    *,
    number: str,
    issue_date: str,
    seller: str,
    buyer: str,
    process_type: str,
    rate: Decimal,
) -> None:
    _before(root.find("cbc:ID", NS), "cbc:ProfileID", process_type)
    _set(root, "cbc:ID", number)
    _set(root, "cbc:IssueDate", issue_date)
    _set(root, "cbc:DueDate", issue_date[:8] + "28")
    old_note = root.find("cbc:Note", NS)
    for code, text in NOTES.items():
        _before(old_note, "cbc:Note", f"#{code}#{text}")
    old_note.getparent().remove(old_note)
    for role, siren in (("AccountingSupplierParty", seller), ("AccountingCustomerParty", buyer)):
        party = root.find(f"cac:{role}/cac:Party", NS)
        party.insert(0, etree.Element(f"{{{CBC}}}EndpointID", schemeID=SIREN_SCHEME))
        party[0].text, party[0].tail = siren, party[1].tail
        _set(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode", "FR")
        _set(party, "cac:PostalAddress/cbc:PostalZone", "75002")
        _set(party, "cac:PostalAddress/cbc:CityName", "Paris")
        legal = party.find("cac:PartyLegalEntity", NS)
        for old in legal.findall("cbc:CompanyID", NS):
            legal.remove(old)
        _el(legal, "cbc:CompanyID", siren, schemeID="0002")
    _set(
        root,
        "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID",
        vat_number(seller),
    )
    _set(root, ".//cbc:Percent", str(rate))
    base = Decimal(root.findtext("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", namespaces=NS))
    tax = base * rate / 100
    _set(root, "cac:TaxTotal/cbc:TaxAmount", _money(tax))
    _set(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", _money(tax))
    _set(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", _money(base + tax))
    _set(root, "cac:LegalMonetaryTotal/cbc:PayableAmount", _money(base + tax))


# --- CII -----------------------------------------------------------------------------------------


def _cii(
    root: etree._Element,
    *,
    number: str,
    issue_date: str,
    seller: str,
    buyer: str,
    process_type: str,
    rate: Decimal,
) -> None:
    guideline = root.find(
        "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter", NS
    )
    param = _before(guideline, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _el(param, "ram:ID", process_type)
    doc = root.find("rsm:ExchangedDocument", NS)
    _set(doc, "ram:ID", number)
    _set(doc, "ram:IssueDateTime/udt:DateTimeString", issue_date.replace("-", ""))
    old_note = doc.find("ram:IncludedNote", NS)
    for code, text in NOTES.items():
        note = _before(old_note, "ram:IncludedNote")
        _el(note, "ram:Content", text)
        _el(note, "ram:SubjectCode", code)
    doc.remove(old_note)
    agreement = root.find("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement", NS)
    for role, siren in (("SellerTradeParty", seller), ("BuyerTradeParty", buyer)):
        party = agreement.find(f"ram:{role}", NS)
        legal = party.find("ram:SpecifiedLegalOrganization", NS)
        if legal is None:
            legal = etree.Element(f"{{{RAM}}}SpecifiedLegalOrganization")
            party.find("ram:Name", NS).addnext(legal)
        for old in list(legal):
            legal.remove(old)
        _el(legal, "ram:ID", siren, schemeID="0002")
        address = party.find("ram:PostalTradeAddress", NS)
        _set(address, "ram:CountryID", "FR")
        _set(address, "ram:PostcodeCode", "75002")
        _set(address, "ram:CityName", "Paris")
        uri = etree.Element(f"{{{RAM}}}URIUniversalCommunication")
        _el(uri, "ram:URIID", siren, schemeID=SIREN_SCHEME)
        address.addnext(uri)
    _set(agreement, "ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", vat_number(seller))
    _set(root, ".//ram:RateApplicablePercent", str(rate))
    settlement = root.find(
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement", NS
    )
    totals = settlement.find("ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    base = Decimal(totals.findtext("ram:TaxBasisTotalAmount", namespaces=NS))
    tax = base * rate / 100
    _set(settlement, "ram:ApplicableTradeTax/ram:CalculatedAmount", _money(tax))
    _set(totals, "ram:TaxTotalAmount", _money(tax))
    _set(totals, "ram:GrandTotalAmount", _money(base + tax))
    _set(totals, "ram:DuePayableAmount", _money(base + tax))
    _set(
        settlement,
        "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
        issue_date.replace("-", "")[:6] + "28",
    )


def factur_x_pdf(xml: bytes | None, name: str = "factur-x.xml") -> bytes:
    """A one-page PDF carrying ``xml`` as its Factur-X attachment (None: no attachment), made
    with pypdf (../shared holds no Factur-X PDF)."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    if xml is not None:
        writer.add_attachment(name, xml)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
