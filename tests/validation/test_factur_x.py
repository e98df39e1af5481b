"""Factur-X 1.09 (issue 20, item 5): the CII of a hybrid PDF invoice, by profile.

The PDFs are made here with pypdf from corpus documents (the shared folder holds the Factur-X
rules but no Factur-X PDF): a blank page with the CII attached as ``factur-x.xml``, as the
Factur-X convention names it. The Factur-X stylesheets read their code databases with
``document()``; those calls are bound to the bundle's own folder (``bind_loaders``), and a
stylesheet that reaches anything else is refused.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfWriter

from gateway.validation import Engine
from gateway.validation.kosit import ConfigError, bind_loaders
from tests.french_invoices import NS, french_invoice

EXTENDED = "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended"
BASIC_WL = "urn:factur-x.eu:1p0:basicwl"
CII9 = "en16931-examples/cii/CII_example9.xml"


def pdf(xml: bytes, name: str = "factur-x.xml") -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment(name, xml)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _guideline(raw: bytes, value: str) -> bytes:
    return re.sub(
        rb"(<ram:GuidelineSpecifiedDocumentContextParameter>\s*<ram:ID>)[^<]*",
        rb"\g<1>" + value.encode(),
        raw,
        count=1,
    )


def test_the_cii_inside_a_pdf_gets_the_factur_x_en16931_profile(
    engine: Engine, corpus_dir: Path
) -> None:
    raw = (corpus_dir / CII9).read_bytes()
    assert engine.validate(raw).scenario == "en16931-cii"  # plain XML keeps EN 16931
    report = engine.validate(pdf(raw))
    assert report.scenario == "factur-x-en16931" and report.accepted
    assert "schematron-factur-x" in report.timings
    # The Factur-X rules do run: a type code outside their code database is an error.
    broken = raw.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:TypeCode>999</ram:TypeCode>")
    bad = engine.validate(pdf(broken))
    assert not bad.accepted
    assert any(f.source == "factur-x" and f.blocking for f in bad.findings)


def test_extended_and_basic_wl_by_their_customization_ids(engine: Engine, corpus_dir: Path) -> None:
    raw = (corpus_dir / CII9).read_bytes()
    for data in (_guideline(raw, EXTENDED), pdf(_guideline(raw, EXTENDED))):
        report = engine.validate(data)
        assert report.scenario == "factur-x-extended" and report.accepted, report.findings
    # BASIC WL carries no lines (nor contacts or BIC): the same invoice without them is valid,
    # with its lines the BASIC WL schema refuses it.
    with_lines = _guideline(raw, BASIC_WL)
    refused = engine.validate(pdf(with_lines))
    assert refused.scenario == "factur-x-basicwl" and not refused.accepted
    assert any(f.rule == "XSD-CONTENT" for f in refused.findings)
    tree = etree.fromstring(with_lines)
    for path in (
        ".//ram:IncludedSupplyChainTradeLineItem",
        ".//ram:DefinedTradeContact",
        ".//ram:PayeeSpecifiedCreditorFinancialInstitution",
    ):
        for node in tree.findall(path, NS):
            node.getparent().remove(node)
    lean = engine.validate(pdf(etree.tostring(tree)))
    assert lean.scenario == "factur-x-basicwl" and lean.accepted, lean.findings


def test_a_french_factur_x_gets_the_french_rules_too(engine: Engine, corpus_dir: Path) -> None:
    report = engine.validate(pdf(french_invoice(corpus_dir, "cii")))
    assert report.scenario == "fr-ctc-factur-x-en16931" and report.accepted
    assert {"schematron-factur-x", "schematron-fr-ctc"} <= set(report.timings)
    bad = engine.validate(pdf(french_invoice(corpus_dir, "cii", rate="21")))
    assert "BR-FR-16_BT-152" in {f.rule for f in bad.findings if f.blocking}


def test_a_pdf_without_an_invoice_is_refused_with_a_reason(engine: Engine) -> None:
    report = engine.validate(pdf(b"<note/>", "notes.txt"))
    assert report.status == "no-invoice-in-pdf" and not report.accepted
    assert report.findings[0].rule == "PDF-NO-INVOICE"
    broken = engine.validate(b"%PDF-1.7\n this is no pdf at all")
    assert broken.status == "no-invoice-in-pdf" and "cannot be read" in (broken.reason or "")


XSL = "http://www.w3.org/1999/XSL/Transform"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("document('../secret.xml')", "outside"),
        ("document('file:///etc/passwd')", "never to URLs"),
        ("doc(concat('co', 'de.xml'))", "computed argument"),
    ],
)
def test_a_stylesheet_reads_only_files_of_its_own_folder(
    tmp_path: Path, call: str, message: str
) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "codes.xml").write_text("<codes/>")
    ok = etree.fromstring(
        f'<xsl:stylesheet xmlns:xsl="{XSL}" version="2.0">'
        "<xsl:variable name='c' select=\"document('codes.xml')\"/></xsl:stylesheet>"
    )
    assert bind_loaders(ok, folder / "rules.xslt", folder) == 1
    assert ok[0].get("select") == f"document('{(folder / 'codes.xml').as_uri()}')"
    bad = etree.fromstring(
        f'<xsl:stylesheet xmlns:xsl="{XSL}" version="2.0">'
        f'<xsl:variable name="c" select="{call}"/></xsl:stylesheet>'
    )
    with pytest.raises(ConfigError, match=message):
        bind_loaders(bad, folder / "rules.xslt", folder)
