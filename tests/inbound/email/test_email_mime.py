"""MIME extraction: which parts of a real-world mail are invoices, and what else is kept."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage

from gateway.inbound.email.mime import parse_mail
from tests.inbound.email.mailbuild import attach, facturx_pdf, new_mail


def test_ubl_and_cii_attachments_are_found_with_headers(ubl_bytes: bytes, cii_bytes: bytes) -> None:
    msg = new_mail("Two invoices")
    attach(msg, ubl_bytes, "peppol.xml")
    attach(msg, cii_bytes, "xrechnung.xml", "text/xml")
    mail = parse_mail(msg.as_bytes())

    assert [(i.part.data, i.doc_type, i.source) for i in mail.invoices] == [
        (ubl_bytes, "Invoice", "attachment"),
        (cii_bytes, "CrossIndustryInvoice", "attachment"),
    ]
    assert mail.headers["from"] == "Seller Billing <billing@seller.example>"
    assert mail.headers["to"] == ["invoices@buyer.example"]
    assert mail.headers["subject"] == "Two invoices"
    assert mail.headers["message_id"] == "<Two-invoices@seller.example>"
    assert mail.body_text == "Please find our invoice attached.\n"
    assert mail.attachments == []


def test_recognised_by_content_not_name(ubl_bytes: bytes) -> None:
    """An invoice named .dat with a generic type is found; an XML that is no invoice is not."""
    msg = new_mail()
    attach(msg, ubl_bytes, "export.dat", "application/octet-stream")
    attach(msg, b"<?xml version='1.0'?><order><id>1</id></order>", "order.xml")
    mail = parse_mail(msg.as_bytes())

    assert [i.part.filename for i in mail.invoices] == ["export.dat"]
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("order.xml", "application/xml")
    ]


def test_facturx_pdf_yields_embedded_cii_and_keeps_pdf(cii_bytes: bytes) -> None:
    pdf = facturx_pdf(cii_bytes, extra={"notes.txt": b"just a note"})
    msg = new_mail("Factur-X")
    attach(msg, pdf, "invoice-4711.pdf", "application/pdf")
    mail = parse_mail(msg.as_bytes())

    (inv,) = mail.invoices
    assert inv.source == "pdf"
    assert inv.part.data == cii_bytes
    assert inv.part.filename == "factur-x.xml"
    assert inv.doc_type == "CrossIndustryInvoice"
    assert inv.container is not None and inv.container.filename == "invoice-4711.pdf"
    assert [a.summary()["sha256"] for a in mail.attachments] == [hashlib.sha256(pdf).hexdigest()]


def test_zugferd_name_is_case_insensitive_and_broken_embedded_xml_is_reported(
    ubl_bytes: bytes,
) -> None:
    pdf = facturx_pdf(b"<rsm:CrossIndustryInvoice", name="ZUGFeRD-invoice.xml")
    msg = new_mail()
    attach(msg, pdf, "zugferd.pdf", "application/pdf")
    mail = parse_mail(msg.as_bytes())

    assert mail.invoices == []
    (bad,) = mail.unreadable
    assert (bad.name, bad.code) == ("ZUGFeRD-invoice.xml", "not-well-formed")
    assert [a.filename for a in mail.attachments] == ["zugferd.pdf"]


def test_pdf_without_invoice_and_unreadable_pdf_are_attachments_only() -> None:
    msg = new_mail()
    attach(msg, facturx_pdf(b"plain text", name="readme.txt"), "brochure.pdf", "application/pdf")
    attach(msg, b"%PDF-1.7 this is not really a pdf", "broken.pdf", "application/pdf")
    mail = parse_mail(msg.as_bytes())

    assert mail.invoices == []
    assert [a.filename for a in mail.attachments] == ["brochure.pdf", "broken.pdf"]
    assert any("broken.pdf" in w and "unreadable PDF" in w for w in mail.warnings)


def test_xml_as_the_mail_body_quoted_printable(ubl_bytes: bytes) -> None:
    msg = new_mail("Body", text=None)
    msg.set_content(ubl_bytes.decode("utf-8"), subtype="plain", cte="quoted-printable")
    raw = msg.as_bytes()
    assert b"Content-Transfer-Encoding: quoted-printable" in raw

    (inv,) = parse_mail(raw).invoices
    assert inv.source == "body"
    assert inv.part.data.replace(b"\r\n", b"\n") == ubl_bytes.replace(b"\r\n", b"\n")
    assert inv.doc_type == "Invoice"


def test_base64_nested_multipart_and_forwarded_message(
    ubl_bytes: bytes, ubl2_bytes: bytes, cii_bytes: bytes
) -> None:
    original = new_mail("Original from seller")
    attach(original, ubl2_bytes, "inner.xml")
    outer = new_mail("Fwd: Original from seller", text="FYI, forwarding")
    outer.make_mixed()
    related = EmailMessage()
    related.set_content("html body", subtype="html")
    related.add_related(cii_bytes, maintype="application", subtype="xml", filename="cii.xml")
    outer.attach(related)
    attach(outer, ubl_bytes, "outer.xml")
    outer.add_attachment(original)  # message/rfc822
    raw = outer.as_bytes()
    assert b"Content-Transfer-Encoding: base64" in raw

    mail = parse_mail(raw)
    by_name = {i.part.filename: i for i in mail.invoices}
    assert set(by_name) == {"cii.xml", "outer.xml", "inner.xml"}
    assert by_name["cii.xml"].part.data == cii_bytes
    assert by_name["cii.xml"].part.path.count(".") == 1  # found inside the nested multipart
    assert by_name["inner.xml"].part.data == ubl2_bytes
    assert by_name["inner.xml"].forwarded is not None
    assert by_name["inner.xml"].forwarded["subject"] == "Original from seller"
    assert by_name["outer.xml"].forwarded is None
    assert mail.headers["subject"] == "Fwd: Original from seller"


def test_malformed_and_doctype_xml_attachments_are_not_invoices() -> None:
    """Declared XML that cannot be parsed is reported with the reason, and kept as a part."""
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Invoice>&a;</Invoice>'
    msg = new_mail()
    attach(msg, b"<Invoice><cbc:ID>1</Invoice", "broken.xml")
    attach(msg, doctype, "xxe.xml", "text/xml")
    mail = parse_mail(msg.as_bytes())

    assert mail.invoices == []
    assert [(u.name, u.code) for u in mail.unreadable] == [
        ("broken.xml", "not-well-formed"),
        ("xxe.xml", "forbidden-construct"),
    ]
    assert all(u.reason for u in mail.unreadable)
    assert [a.filename for a in mail.attachments] == ["broken.xml", "xxe.xml"]


def test_mail_without_invoice() -> None:
    msg = new_mail("Hello", text="<b>not xml at all</b> just text that starts with a tag")
    attach(msg, b"\x89PNG....", "logo.png", "image/png")
    mail = parse_mail(msg.as_bytes())

    assert mail.invoices == []
    assert [a.filename for a in mail.attachments] == ["logo.png"]
    assert mail.body_text is not None and mail.body_text.startswith("<b>not xml")


def test_encoded_headers_and_filenames_are_decoded(ubl_bytes: bytes) -> None:
    msg = new_mail("Rechnung Nr. 4711 für Müller GmbH")
    attach(msg, ubl_bytes, "Rechnung_Müller.xml")
    raw = msg.as_bytes()
    assert "Müller".encode() not in raw.split(b"\n\n", 1)[0]  # really RFC 2047 encoded

    mail = parse_mail(raw)
    assert mail.headers["subject"] == "Rechnung Nr. 4711 für Müller GmbH"
    assert mail.invoices[0].part.filename == "Rechnung_Müller.xml"


def test_same_xml_twice_in_one_mail_is_one_invoice(cii_bytes: bytes) -> None:
    """Senders often attach the XML on its own and inside the Factur-X PDF."""
    msg = new_mail()
    attach(msg, facturx_pdf(cii_bytes), "R-1.pdf", "application/pdf")
    attach(msg, cii_bytes, "R-1.xml")
    mail = parse_mail(msg.as_bytes())

    (inv,) = mail.invoices
    assert (inv.source, inv.part.path, inv.copies) == ("pdf", "2/factur-x.xml", ["3"])
