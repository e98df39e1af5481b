"""The real corpus from ../shared/corpus, with its known outcomes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.validation import Engine
from tests.conftest import CORPUS

XRECHNUNG = sorted((CORPUS / "xrechnung-testsuite").rglob("*.xml"))
PEPPOL_BIS = sorted((CORPUS / "peppol-bis-examples").glob("*.xml"))
IMR = sorted((CORPUS / "peppol-invoice-response").rglob("*.xml"))
MLS = sorted((CORPUS / "peppol-mls").glob("*.xml"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_corpus_is_complete() -> None:
    assert len(XRECHNUNG) == 86
    assert len(PEPPOL_BIS) == 9 and len(IMR) == 14 and len(MLS) == 8


@pytest.mark.parametrize("path", XRECHNUNG, ids=_ids(XRECHNUNG))
def test_xrechnung_testsuite_accepted(engine: Engine, path: Path) -> None:
    report = engine.validate(path.read_bytes())
    blocking = [(f.rule, f.message) for f in report.findings if f.blocking]
    assert report.accepted, blocking
    assert report.scenario is not None and report.scenario.startswith("xrechnung-3.0")
    expected = "cii" if path.name.endswith("_uncefact.xml") else "ubl"
    assert expected in report.scenario


@pytest.mark.parametrize("path", PEPPOL_BIS, ids=_ids(PEPPOL_BIS))
def test_peppol_bis_examples_accepted(engine: Engine, path: Path) -> None:
    report = engine.validate(path.read_bytes())
    assert report.scenario in {"peppol-bis3-invoice", "peppol-bis3-creditnote"}
    assert report.accepted, [(f.rule, f.message) for f in report.findings if f.blocking]


@pytest.mark.parametrize("path", IMR, ids=_ids(IMR))
def test_invoice_response_examples_accepted(engine: Engine, path: Path) -> None:
    report = engine.validate(path.read_bytes())
    assert report.scenario == "peppol-invoice-response-3"
    assert report.accepted, [(f.rule, f.message) for f in report.findings if f.blocking]


@pytest.mark.parametrize("path", MLS, ids=_ids(MLS))
def test_mls_examples_accepted(engine: Engine, path: Path) -> None:
    report = engine.validate(path.read_bytes())
    assert report.scenario == "peppol-mls-1.0"
    assert report.accepted, [(f.rule, f.message) for f in report.findings if f.blocking]


def test_en16931_examples(engine: Engine) -> None:
    """CEN examples: the EN 16931 ones pass; ZUGFeRD 1.0 CII has no scenario; issue116 breaks a
    Peppol national rule (it claims Peppol BIS but has a malformed Swedish org number)."""
    outcomes = {}
    for path in sorted((CORPUS / "en16931-examples").rglob("*")):
        if path.is_file():
            outcomes[path.name] = engine.validate(path.read_bytes())
    assert len(outcomes) == 34
    no_scenario = {n for n, r in outcomes.items() if r.status == "no-scenario"}
    assert no_scenario == {
        "CII-BR-CO-10-RoundingIssue.xml",
        "CII_business_example_02.xml",
        "CII_business_example_Z.xml",
    }
    for name in no_scenario:
        assert "urn:ferd:CrossIndustryDocument:invoice:1p0" in (outcomes[name].reason or "")
    rejected = {n for n, r in outcomes.items() if r.status == "rejected"}
    assert rejected == {"issue116.xml"}
    assert {f.rule for f in outcomes["issue116.xml"].findings if f.blocking} == {
        "PEPPOL-COMMON-R049"
    }
    # BIS3_Invoice_negativ is a negative-*amount* invoice, which Peppol BIS allows.
    assert outcomes["BIS3_Invoice_negativ.XML"].accepted


def _mutate(path: Path, old: str, new: str) -> bytes:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1).encode()


BASE = CORPUS / "peppol-bis-examples" / "base-example.xml"
XR_UBL = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"


@pytest.mark.parametrize(
    ("path", "old", "new", "rule", "source"),
    [
        # Totals that do not add up: sum of line net amounts must equal BT-106.
        (
            BASE,
            '<cbc:LineExtensionAmount currencyID="EUR">1300</cbc:LineExtensionAmount>',
            '<cbc:LineExtensionAmount currencyID="EUR">1400</cbc:LineExtensionAmount>',
            "BR-CO-10",
            "en16931",
        ),
        # Unknown currency code.
        (
            BASE,
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            "<cbc:DocumentCurrencyCode>EUX</cbc:DocumentCurrencyCode>",
            "BR-CL-04",
            "en16931",
        ),
        # Peppol: ProfileID missing.
        (
            BASE,
            "<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>",
            "",
            "PEPPOL-EN16931-R001",
            "peppol",
        ),
        # XRechnung: Leitweg-ID (BuyerReference) missing.
        (
            XR_UBL,
            re.search(r"<cbc:BuyerReference>[^<]*</cbc:BuyerReference>", XR_UBL.read_text()).group(
                0
            ),
            "",
            "BR-DE-15",
            "xrechnung",
        ),
    ],
    ids=["BR-CO-10", "BR-CL-04", "PEPPOL-EN16931-R001", "BR-DE-15"],
)
def test_negative_examples_rejected_with_rule(
    engine: Engine, path: Path, old: str, new: str, rule: str, source: str
) -> None:
    report = engine.validate(_mutate(path, old, new))
    assert report.status == "rejected"
    fired = {(f.rule, f.source) for f in report.findings if f.blocking}
    assert (rule, source) in fired, fired


def test_schema_and_schematron_both_reported(engine: Engine) -> None:
    """All layers run even when the XSD fails, so the report is complete."""
    data = _mutate(
        BASE, "<cbc:ID>Snippet1</cbc:ID>", "<cbc:Bogus>1</cbc:Bogus><cbc:ID>Snippet1</cbc:ID>"
    )
    data = data.replace(b"<cbc:DocumentCurrencyCode>EUR", b"<cbc:DocumentCurrencyCode>EUX")
    report = engine.validate(data)
    sources = {f.source for f in report.findings if f.blocking}
    assert {"xsd", "en16931"} <= sources
    xsd = [f for f in report.findings if f.source == "xsd"]
    assert xsd[0].rule == "XSD-CONTENT" and xsd[0].line is not None


def test_report_fields(engine: Engine) -> None:
    report = engine.validate(XR_UBL.read_bytes())
    data = report.to_dict()
    assert data["scenario"] == "xrechnung-3.0-ubl-invoice"
    assert data["artefacts"] == {
        "ubl-2.1": "2.1 OS",
        "en16931-1.3.16": "1.3.16",
        "xrechnung-3.0.2": "3.0.2",
    }
    for step in (
        "parse",
        "identify",
        "schema",
        "schematron-en16931",
        "schematron-xrechnung",
        "total",
    ):
        assert data["timings"][step] >= 0
    assert data["document"]["number"] and data["document"]["business_key"]


def test_severity_override_applied(engine: Engine) -> None:
    """UBL-CR-646 is a CEN warning that KoSIT raises to error for XRechnung (no SubInvoiceLine)."""
    text = XR_UBL.read_text(encoding="utf-8")
    sub = "<cac:SubInvoiceLine><cbc:ID>1</cbc:ID></cac:SubInvoiceLine>"
    data = text.replace("</cac:Item>", "</cac:Item>", 1)
    # Insert the sub line just before the first InvoiceLine closes.
    data = data.replace("</cac:InvoiceLine>", sub + "</cac:InvoiceLine>", 1).encode()
    report = engine.validate(data)
    hits = [f for f in report.findings if f.rule == "UBL-CR-646"]
    assert hits and hits[0].severity == "error" and hits[0].original_severity == "warning"
    assert report.status == "rejected"


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "UTF-16"])
def test_declared_encoding_is_honoured_by_every_layer(engine: Engine, encoding: str) -> None:
    """A Latin-1 or UTF-16 document gives the same findings as its UTF-8 original (umlauts
    included), so the Schematron layers see the same text as the XSD layer."""
    from lxml import etree

    source = next((CORPUS / "xrechnung-testsuite").rglob("01.01a-INVOICE_ubl.xml"))
    root = etree.fromstring(source.read_bytes())
    note = root.find("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}Note")
    note.text = "Grüße aus Köln - Straße"
    utf8 = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    other = etree.tostring(root, xml_declaration=True, encoding=encoding)
    assert other != utf8
    expected = engine.validate(utf8)
    report = engine.validate(other)
    assert report.accepted and expected.accepted
    assert [(f.rule, f.location) for f in report.findings] == [
        (f.rule, f.location) for f in expected.findings
    ]
    assert report.document == expected.document
    # What the Schematron layers read: the same characters, whatever the encoding.
    from gateway.documents import parse_xml
    from gateway.validation.saxon import SaxonRuntime
    from gateway.validation.speedups.standin import saxon_text

    runtime = SaxonRuntime.shared()
    xpath = runtime.proc.new_xpath_processor()
    xpath.set_context(xdm_item=runtime.parse(saxon_text(other, parse_xml(other), None)))
    text = xpath.evaluate_single("string((//*[local-name() = 'Note'])[1])")
    assert text is not None and text.string_value == "Grüße aus Köln - Straße"
