"""libxml2 accepts ``!*`` as ``xs:base64Binary``; the schema layer must not."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.documents import parse_xml
from gateway.validation import Engine, ValidationReport
from gateway.validation.base64_values import BASE64, bad_base64, base64_elements
from tests.conftest import CORPUS

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"


@pytest.mark.parametrize("scenario_id", ["xrechnung-3.0-ubl-invoice", "xrechnung-3.0-cii"])
def test_the_elements_found_are_the_ones_xmlschema_finds(engine: Engine, scenario_id: str) -> None:
    import xmlschema
    from xmlschema.validators import XsdElement

    xsd = engine.artefacts_dir / engine.scenario(scenario_id).schema
    schema = xmlschema.XMLSchema10(str(xsd), allow="local")
    b64 = schema.maps.types[BASE64]
    expected = set()
    for component in schema.maps.iter_components():
        if isinstance(component, XsdElement):
            t = component.type
            simple = t if t.is_simple() else (t.content if t.has_simple_content() else None)
            if simple is not None and simple.is_derived(b64):
                expected.add(component.name)
    found = base64_elements(xsd)
    assert found == expected
    assert (
        f"{{{CBC}}}EmbeddedDocumentBinaryObject" in found
        or f"{{{RAM}}}AttachmentBinaryObject" in found
    )


@pytest.mark.parametrize(
    ("content", "bad"),
    [
        ("JVBERi0xLjQK", False),
        ("JVBE\nRi0x\r\n LjQK", False),
        ("JVBERi0xLjQ=", False),
        ("!*!*", True),
        ("JVBERi0x LjQK é", True),
        ("JVBERi0x_LjQK", True),
    ],
)
def test_characters_outside_the_alphabet_are_caught(content: str, bad: bool) -> None:
    names = frozenset({f"{{{CBC}}}EmbeddedDocumentBinaryObject"})
    tree = etree.ElementTree(
        etree.fromstring(
            f'<r xmlns:cbc="{CBC}"><cbc:Note>!*</cbc:Note>'
            f"<cbc:EmbeddedDocumentBinaryObject>{content}</cbc:EmbeddedDocumentBinaryObject></r>"
        )
    )
    assert bad_base64(tree, names) is bad


@pytest.mark.parametrize("syntax", ["EmbeddedDocumentBinaryObject", "AttachmentBinaryObject"])
def test_a_broken_attachment_is_rejected_by_the_schema_layer(engine: Engine, syntax: str) -> None:
    path = next(
        p
        for p in sorted((CORPUS / "xrechnung-testsuite").rglob("*.xml"))
        if f":{syntax}".encode() in p.read_bytes()
    )
    root = etree.fromstring(path.read_bytes())
    leaf = next(el for el in root.iter() if etree.QName(el).localname == syntax)
    assert engine.validate(path.read_bytes()).accepted
    leaf.text = "!*" * 5000  # libxml2 alone: valid (it skips what it does not know)
    report = engine.validate(etree.tostring(root))
    assert not report.accepted
    xsd = [f for f in report.findings if f.source == "xsd"]
    assert xsd and "base64" in xsd[0].message.lower(), [f.to_dict() for f in xsd]
    assert xsd[0].location and syntax in xsd[0].location
    assert bad_base64(parse_xml(etree.tostring(root)), base64_elements(_xsd(engine, report)))


def _xsd(engine: Engine, report: ValidationReport) -> Path:
    return engine.artefacts_dir / engine.scenario(report.scenario).schema
