"""libxml2 accepts ``!*`` as ``xs:base64Binary``; the schema layer must not. And where the schema
layer lets libxml2 validate a stand-in for a large value, nothing it would have found is lost."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from gateway.documents import parse_xml
from gateway.validation import Engine, ValidationReport
from gateway.validation.schema import SchemaLayer
from gateway.validation.speedups.base64_values import (
    BASE64,
    bad_base64,
    base64_elements,
    valid_base64,
)
from gateway.validation.speedups.standin import MIN_CHARS, STAND_IN, LargeLeaves
from tests.conftest import CORPUS

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
XS = "http://www.w3.org/2001/XMLSchema"


@pytest.mark.parametrize("scenario_id", ["xrechnung-3.0-ubl-invoice", "xrechnung-3.0-cii"])
def test_the_elements_found_are_the_ones_xmlschema_finds(engine: Engine, scenario_id: str) -> None:
    import xmlschema
    from xmlschema.validators import XsdElement

    xsd = engine.artefacts_dir / engine.scenario(scenario_id).schema
    schema = xmlschema.XMLSchema10(str(xsd), allow="local")
    b64 = schema.maps.types[BASE64]
    expected: set[str] = set()
    not_plain: set[str] = set()
    for component in schema.maps.iter_components():
        if isinstance(component, XsdElement):
            t = component.type
            simple = t if t.is_simple() else (t.content if t.has_simple_content() else None)
            if simple is None or not simple.is_derived(b64):
                not_plain.add(component.name)
                continue
            expected.add(component.name)
            step = simple
            while step is not b64:  # every step from the element's type up to base64Binary
                if getattr(step, "facets", None):
                    not_plain.add(component.name)
                step = step.base_type
            if component.fixed is not None or component.default is not None:
                not_plain.add(component.name)
    found = base64_elements(xsd)
    assert found.names == expected
    assert found.plain == expected - not_plain
    assert (
        f"{{{CBC}}}EmbeddedDocumentBinaryObject" in found.plain
        or f"{{{RAM}}}AttachmentBinaryObject" in found.plain
    )


@pytest.mark.parametrize(
    ("content", "bad"),
    [
        ("JVBERi0xLjQK", False),
        ("JVBE\nRi0x\r\n LjQK", False),
        ("JVBERi0xLjQ=", False),
        ("JVBERi0xLg==", False),
        ("", False),
        ("!*!*", True),
        ("JVBERi0x LjQK é", True),
        ("JVBERi0x_LjQK", True),
        ("JVBERi0xLjQ", True),  # not a multiple of four
        ("JVBERi0xLjR=", True),  # 'R' leaves bits set before '=' (Xerces: invalid)
        ("JVBERi0xLh==", True),  # 'h' leaves bits set before '=='
        ("JVBE=i0xLjQK", True),  # padding inside
        ("JVBERi0x====", True),
    ],
)
def test_values_outside_the_lexical_space_are_caught(content: str, bad: bool) -> None:
    names = frozenset({f"{{{CBC}}}EmbeddedDocumentBinaryObject"})
    tree = etree.ElementTree(
        etree.fromstring(
            f'<r xmlns:cbc="{CBC}"><cbc:Note>!*</cbc:Note>'
            f"<cbc:EmbeddedDocumentBinaryObject>{content}</cbc:EmbeddedDocumentBinaryObject></r>"
        )
    )
    assert bad_base64(tree, names) is bad
    # A comment does not split the value: both halves together must be base64.
    split = etree.fromstring(
        f'<r xmlns:cbc="{CBC}"><cbc:EmbeddedDocumentBinaryObject>JVBE<!--c-->{content}'
        "</cbc:EmbeddedDocumentBinaryObject></r>"
    )
    assert bad_base64(etree.ElementTree(split), names) is not valid_base64("JVBE" + content)


def test_the_lexical_check_agrees_with_xmlschema() -> None:
    """Random strings near the edge of the grammar: ours and xmlschema's validator agree."""
    from xmlschema.validators.exceptions import XMLSchemaValidationError
    from xmlschema.validators.helpers import base64_binary_validator

    rng = random.Random(20261122)
    pieces = ["A", "Q", "g", "w", "B", "E", "R", "h", "z", "9", "+", "/", "=", "=", " ", "\n"]
    pieces += ["\t", "\r", "!", "-", "é"]
    bad = good = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        try:
            base64_binary_validator(" ".join(text.split()))  # xmlschema collapses first
            expected = True
        except XMLSchemaValidationError:
            expected = False
        assert valid_base64(text) is expected, repr(text)
        good += expected
        bad += not expected
    assert good > 1000 and bad > 1000  # both sides of the grammar were exercised


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
    for broken in ("!*" * 5000, leaf.text.strip()[:-1]):  # libxml2 alone: alphabet ok; length
        leaf.text = broken
        report = engine.validate(etree.tostring(root))
        assert not report.accepted
        xsd = [f for f in report.findings if f.source == "xsd"]
        assert xsd and "base64" in xsd[0].message.lower(), [f.to_dict() for f in xsd]
        assert xsd[0].location and syntax in xsd[0].location
        names = base64_elements(_xsd(engine, report)).names
        assert bad_base64(parse_xml(etree.tostring(root)), names)


def _xsd(engine: Engine, report: ValidationReport) -> Path:
    return engine.artefacts_dir / engine.scenario(report.scenario).schema


# -- which elements may stand in for libxml2 -------------------------------------------------
SCHEMA = f"""<xs:schema xmlns:xs="{XS}" xmlns="urn:t" targetNamespace="urn:t"
    elementFormDefault="qualified">
  <xs:simpleType name="Short"><xs:restriction base="xs:base64Binary">
    <xs:maxLength value="16"/></xs:restriction></xs:simpleType>
  <xs:complexType name="Binary"><xs:simpleContent><xs:extension base="xs:base64Binary">
    <xs:attribute name="mimeCode" type="xs:string" use="required"/>
  </xs:extension></xs:simpleContent></xs:complexType>
  <xs:complexType name="ShortBinary"><xs:simpleContent><xs:extension base="Short">
    <xs:attribute name="mimeCode" type="xs:string"/>
  </xs:extension></xs:simpleContent></xs:complexType>
  <xs:element name="Doc"><xs:complexType><xs:sequence>
    <xs:element name="Plain" type="Binary" minOccurs="0"/>
    <xs:element name="Limited" type="ShortBinary" minOccurs="0"/>
    <xs:element name="Anonymous" minOccurs="0"><xs:simpleType>
      <xs:restriction base="xs:base64Binary"><xs:length value="3"/></xs:restriction>
    </xs:simpleType></xs:element>
    <xs:element name="Fixed" type="xs:base64Binary" fixed="AAAA" minOccurs="0"/>
    <xs:element name="Twice" type="xs:base64Binary" minOccurs="0"/>
    <xs:element name="Other" minOccurs="0"><xs:complexType><xs:sequence>
      <xs:element name="Twice" type="Short"/></xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""


@pytest.fixture
def crafted(tmp_path: Path) -> SchemaLayer:
    (tmp_path / "t.xsd").write_text(SCHEMA)
    return SchemaLayer(tmp_path / "t.xsd")


def test_only_plain_base64_declarations_may_stand_in(crafted: SchemaLayer) -> None:
    found = crafted.base64
    assert {n.removeprefix("{urn:t}") for n in found.names} == {
        "Plain",
        "Limited",
        "Anonymous",
        "Fixed",
        "Twice",
    }
    assert {n.removeprefix("{urn:t}") for n in found.plain} == {"Plain"}


LONG = "JVBERi0xLjQK" * (MIN_CHARS // 12 + 1)


@pytest.mark.parametrize(
    ("body", "valid", "stood_in"),
    [
        (f'<Plain mimeCode="x">{LONG}</Plain>', True, True),
        # The attribute is still validated; xmlschema then reports on the real text.
        (f"<Plain>{LONG}</Plain>", False, False),
        (f'<Plain mimeCode="x">{LONG[:-1]}</Plain>', False, False),  # bad value: no stand-in
        (f"<Limited>{LONG}</Limited>", False, False),  # maxLength 16: libxml2 sees it all
        (f"<Anonymous>{LONG}</Anonymous>", False, False),
        (f"<Fixed>{LONG}</Fixed>", False, False),
        (f"<Other><Twice>{LONG}</Twice></Other>", False, False),
        (
            f'<Plain mimeCode="x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:type="ShortBinary">{LONG}</Plain>',
            False,
            False,
        ),
    ],
)
def test_the_schema_layer_finds_with_stand_ins_what_it_finds_without(
    crafted: SchemaLayer, body: str, valid: bool, stood_in: bool
) -> None:
    data = f'<Doc xmlns="urn:t">{body}</Doc>'.encode()
    tree = parse_xml(data)
    leaves = LargeLeaves(tree, len(data))
    assert len(leaves.leaves) == 1
    with_stand_ins = crafted.check(tree, leaves)
    assert (leaves.leaves[0].text == STAND_IN) is stood_in
    leaves.restore()
    without = crafted.check(parse_xml(data))
    assert (not with_stand_ins) is valid
    assert [f.rule for f in with_stand_ins] == [f.rule for f in without]
    assert [f.message for f in with_stand_ins] == [f.message for f in without]
