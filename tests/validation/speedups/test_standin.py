"""Attachment stand-ins: the analysis of what a stylesheet can read (``gateway.validation.speedups.reads``)
and the documents Saxon and libxml2 get (``gateway.validation.speedups.standin``) change no finding.

Three levels: the analysis on crafted stylesheets (every way of reading a text that we know of
must be caught); the pinned stylesheets (the analysis understands all of them and clears the
attachment elements, so the stand-in is really used); and the engine with and without
stand-ins over every corpus document with an attachment, plus mutated attachments, finding for
finding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.documents import parse_xml
from gateway.validation import Engine
from gateway.validation.saxon import SaxonRuntime
from gateway.validation.schema import SchemaLayer
from gateway.validation.speedups.reads import Reads, stylesheet_reads
from gateway.validation.speedups.standin import MIN_CHARS, STAND_IN, LargeLeaves, saxon_text
from tests.conftest import CORPUS

XSL = "http://www.w3.org/1999/XSL/Transform"
UBL = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
BINARY_UBL = f"{{{CBC}}}EmbeddedDocumentBinaryObject"
BINARY_CII = f"{{{RAM}}}AttachmentBinaryObject"
PAYLOAD = "JVBERi0xLjQK" * (MIN_CHARS // 12 + 1)

INVOICE = f"""<Invoice xmlns="{UBL}" xmlns:cac="{CAC}" xmlns:cbc="{CBC}">
  <cbc:ID>1</cbc:ID><cbc:Note>short</cbc:Note>
  <cac:AdditionalDocumentReference><cbc:ID>a</cbc:ID>
    <cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode="application/pdf"
      filename="a.pdf">{PAYLOAD}</cbc:EmbeddedDocumentBinaryObject></cac:Attachment>
  </cac:AdditionalDocumentReference>
</Invoice>"""


def _reads(rule_context: str, test: str, extra: str = "") -> Reads:
    """The analysis of a one-rule stylesheet shaped like the Schematron skeleton's output."""
    return stylesheet_reads(
        etree.fromstring(
            f"""<xsl:stylesheet xmlns:xsl="{XSL}" version="3.0" xmlns:ubl="{UBL}"
                  xmlns:cac="{CAC}" xmlns:cbc="{CBC}" xmlns:u="urn:u">
              {extra}
              <xsl:template match="/"><xsl:apply-templates select="/" mode="M1"/></xsl:template>
              <xsl:template match="{rule_context}" mode="M1" priority="1000">
                <xsl:choose><xsl:when test="{test}"/><xsl:otherwise>
                  <failed-assert test="x" location="{{name()}}"/>
                </xsl:otherwise></xsl:choose>
                <xsl:apply-templates select="@*|*" mode="M1"/>
              </xsl:template>
              <xsl:template match="text()" priority="-1" mode="M1"/>
              <xsl:template match="@*|node()" priority="-2" mode="M1">
                <xsl:apply-templates select="@*|*" mode="M1"/>
              </xsl:template>
            </xsl:stylesheet>"""
        )
    )


def _attachment() -> etree._Element:
    return etree.fromstring(INVOICE).find(f".//{BINARY_UBL}")


@pytest.mark.parametrize(
    ("context", "test"),
    [
        ("cbc:EmbeddedDocumentBinaryObject", "string-length(.) &gt; 10"),
        ("cbc:EmbeddedDocumentBinaryObject", "normalize-space() != ''"),
        ("cbc:EmbeddedDocumentBinaryObject", "matches(text(), '^[A-Z]')"),
        ("cac:Attachment", "normalize-space(.) != ''"),
        ("cac:Attachment", "cbc:EmbeddedDocumentBinaryObject = 'x'"),
        ("cac:AdditionalDocumentReference", "string(cac:Attachment)"),
        ("/ubl:Invoice", "string-length(.) &lt; 100000"),
        ("/ubl:Invoice", "string(/) = ''"),
        ("/ubl:Invoice", "//text()[contains(., 'x')]"),
        ("/ubl:Invoice", "descendant::text() = 'x'"),
        ("/ubl:Invoice", "//*[ends-with(name(), 'Object')] = 'x'"),
        ("/ubl:Invoice", "some $a in //cbc:EmbeddedDocumentBinaryObject satisfies $a = ''"),
        ("/ubl:Invoice", "for $a in //cac:Attachment return string($a)"),
        ("/ubl:Invoice", "let $a := cac:AdditionalDocumentReference return $a = ''"),
        ("/ubl:Invoice", "u:check(//cbc:EmbeddedDocumentBinaryObject)"),
        ("/ubl:Invoice", "sum(//cbc:EmbeddedDocumentBinaryObject) &gt; 0"),
        ("/ubl:Invoice", "xs:string(cac:AdditionalDocumentReference) = ''"),
        ("cbc:ID", "../.. = ''"),
        ("cbc:ID", "ancestor::*[1] = ''"),
        ("cbc:ID", "parent::node() = 'x'"),
        ("cbc:ID", "following::node() = 'x'"),
        ("*", "normalize-space(.) != ''"),
        ("node()", "string-length() &gt; 0"),
        ("cbc:ID", "//*[. = current()]"),
        ("cbc:ID", "key('k', .) = 'x'"),
        ("cbc:ID", "string(root()) = 'x'"),
    ],
)
def test_every_way_of_reading_the_attachment_is_seen(context: str, test: str) -> None:
    reads = _reads(context, test)
    assert not reads.blind_to(_attachment()), reads.keys


@pytest.mark.parametrize(
    ("context", "test"),
    [
        ("cbc:EmbeddedDocumentBinaryObject", "@mimeCode = ('application/pdf', 'image/png')"),
        ("cbc:EmbeddedDocumentBinaryObject[@mimeCode]", "normalize-space(@filename) != ''"),
        ("cac:Attachment", "exists(cbc:EmbeddedDocumentBinaryObject)"),
        ("/ubl:Invoice", "count(//cbc:EmbeddedDocumentBinaryObject) &lt;= 5"),
        ("/ubl:Invoice", "not(cac:AdditionalDocumentReference/cac:Attachment)"),
        ("/ubl:Invoice", "cbc:ID = 'x' and cbc:Note != ''"),
        ("/ubl:Invoice", "//*[ends-with(name(), 'Amount')] &gt; 0"),
        ("cbc:ID", "name(..) = 'cac:AdditionalDocumentReference'"),
        ("cbc:ID", "count(preceding-sibling::*[name() = name(current())]) = 0"),
        ("cac:AdditionalDocumentReference", "cbc:ID = preceding::cbc:ID"),
    ],
)
def test_rules_that_cannot_read_the_attachment_leave_it_to_the_stand_in(
    context: str, test: str
) -> None:
    reads = _reads(context, test)
    assert reads.blind_to(_attachment()), sorted(reads.keys)
    assert not reads.unknown


def test_a_variable_carries_what_it_holds() -> None:
    read = _reads("/ubl:Invoice", "$a = 'x'", '<xsl:variable name="a" select="//cac:Attachment"/>')
    assert not read.blind_to(_attachment())
    kept = _reads("/ubl:Invoice", "$a = 'x'", '<xsl:variable name="a" select="//cbc:ID"/>')
    assert kept.blind_to(_attachment())


def test_what_the_analysis_does_not_understand_turns_the_stand_in_off() -> None:
    reads = _reads("cbc:ID", "(: unbalanced :) ((")
    assert reads.unknown and not reads.blind_to(_attachment())
    other = stylesheet_reads(
        etree.fromstring(
            f"""<xsl:stylesheet xmlns:xsl="{XSL}" version="3.0"><xsl:template match="/">
              <xsl:analyze-string select="'a'" regex="a"/></xsl:template></xsl:stylesheet>"""
        )
    )
    assert other.unknown == ("xsl:analyze-string",) and not other.blind_to(_attachment())


def test_output_of_a_node_reads_it() -> None:
    """``value-of`` and ``copy-of`` put a node's text into the report: a reading."""
    for instruction in ("value-of", "copy-of", "sequence"):
        reads = stylesheet_reads(
            etree.fromstring(
                f"""<xsl:stylesheet xmlns:xsl="{XSL}" version="3.0" xmlns:cac="{CAC}">
                  <xsl:template match="cac:Attachment"><xsl:{instruction} select="."/>
                  </xsl:template></xsl:stylesheet>"""
            )
        )
        assert not reads.blind_to(_attachment()), instruction


# -- the pinned stylesheets ------------------------------------------------------------------
def test_the_pinned_stylesheets_are_understood_and_never_read_attachments(
    engine: Engine,
) -> None:
    ubl = _attachment()
    cii = etree.fromstring(
        f'<r:CrossIndustryInvoice xmlns:r="urn:un:unece:uncefact:data:standard:'
        f'CrossIndustryInvoice:100" xmlns:ram="{RAM}"><r:SupplyChainTradeTransaction>'
        "<ram:ApplicableHeaderTradeAgreement><ram:AdditionalReferencedDocument>"
        f"<ram:AttachmentBinaryObject>{PAYLOAD}</ram:AttachmentBinaryObject>"
        "</ram:AdditionalReferencedDocument></ram:ApplicableHeaderTradeAgreement>"
        "</r:SupplyChainTradeTransaction></r:CrossIndustryInvoice>"
    ).find(f".//{BINARY_CII}")
    for scenario in engine.scenarios:
        reads = engine.reads(scenario)
        assert not reads.unknown, (scenario.id, reads.unknown)  # key() is modelled too
        if scenario.id in ("peppol-tsr-1.0", "peppol-eusr-1.1"):
            continue  # Peppol reports carry no attachments
        if scenario.id in ("factur-x-en16931", "fr-ctc-factur-x-en16931", "factur-x-extended"):
            # These Factur-X rules test every element's text (their own copy of the empty-element
            # rule, and string-join(...//text())): they read attachments, so no stand-ins.
            assert reads.broad, scenario.id
            continue
        assert not reads.broad, (scenario.id, reads.broad)
        if scenario.id.startswith(("peppol-bis3", "xrechnung", "en16931")):
            leaf = cii if "cii" in scenario.id else ubl
            assert reads.blind_to(leaf), scenario.id
    # ... and the analysis does see what the rules read: BR-DE and BR-CO rules use these.
    xr = engine.reads(engine.scenario("xrechnung-3.0-ubl-invoice"))
    for name in ("IssueDate", "DocumentCurrencyCode", "PayableAmount", "Note"):
        assert f"{{{CBC}}}{name}" in xr.keys, name


def test_a_long_note_is_read_by_the_rules_so_saxon_gets_it_whole(engine: Engine) -> None:
    tree = parse_xml(INVOICE.replace("short", "n" * (2 * MIN_CHARS)).encode())
    reads = engine.reads(engine.scenario("xrechnung-3.0-ubl-invoice"))
    text = saxon_text(etree.tostring(tree), tree, reads)
    assert "n" * (2 * MIN_CHARS) in text  # the note: read by rules, kept
    assert PAYLOAD not in text and f">{STAND_IN}</cbc:EmbeddedDocumentBinaryObject>" in text
    assert tree.find(f".//{BINARY_UBL}").text == PAYLOAD  # lxml's tree is left as it was
    assert saxon_text(etree.tostring(tree), tree, None).count(PAYLOAD) == 1  # stand-ins off


# -- the engine, with and without stand-ins -------------------------------------------------
@pytest.fixture(scope="module")
def plain_engine(installed_data_dir: Path) -> Engine:
    return Engine(installed_data_dir / "artefacts", stand_ins=False)


def _attachment_mutations(data: bytes) -> list[bytes]:
    """The document with its first attachment changed in the ways rules and XSD care about."""
    out = []
    changes = ("bad-base64", "truncated", "wrapped", "mime", "no-filename", "twice", "comment")
    for change in (*changes, "short"):
        root = etree.fromstring(data)
        leaf = next(root.iter(BINARY_UBL, BINARY_CII))
        if change == "bad-base64":
            leaf.text = "!*" * MIN_CHARS
        elif change == "truncated":  # the right alphabet, but not a whole number of quads
            leaf.text = leaf.text.strip()[:-1]
        elif change == "wrapped":
            leaf.text = "\n".join(leaf.text[i : i + 76] for i in range(0, len(leaf.text), 76))
        elif change == "mime":
            leaf.set("mimeCode", "application/x-unknown")
        elif change == "no-filename":
            leaf.attrib.pop("filename", None)
        elif change == "twice":
            reference = leaf.getparent()
            while etree.QName(reference).localname not in (
                "AdditionalDocumentReference",
                "AdditionalReferencedDocument",
            ):
                reference = reference.getparent()
            reference.addnext(etree.fromstring(etree.tostring(reference)))
        elif change == "comment":
            leaf.insert(0, etree.Comment("scanned"))
        elif change == "short":
            leaf.text = "JVBERi0xLjQK"
        out.append(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return out


@pytest.mark.slow  # the corpus with and without stand-ins: ~40 s quiet (make test-slow, CI)
def test_stand_ins_change_no_finding(engine: Engine, plain_engine: Engine) -> None:
    docs: list[tuple[str, bytes]] = []
    for path in sorted(CORPUS.rglob("*.xml")):
        if "en16931-unit" in path.parts:
            continue
        data = path.read_bytes()
        if len(data) > MIN_CHARS and (b"BinaryObject" in data):
            docs.append((path.name, data))
    with_attachment = [d for d in docs if _has_large_leaf(d[1])]
    assert len(with_attachment) >= 30  # 32 in the XRechnung suite, 2 EN 16931 examples
    for syntax in (b"EmbeddedDocumentBinaryObject", b"AttachmentBinaryObject"):
        name, data = next(d for d in with_attachment if syntax in d[1])
        docs += [(f"{name}~{i}", m) for i, m in enumerate(_attachment_mutations(data))]
    stood_in = schema_stood_in = rejected = 0
    schemas: dict[str, SchemaLayer] = {}
    for name, data in docs:
        got, expected = engine.validate(data), plain_engine.validate(data)
        assert got.scenario == expected.scenario and got.status == expected.status, name
        assert [f.to_dict() for f in got.findings] == [f.to_dict() for f in expected.findings], name
        rejected += not got.accepted
        tree = parse_xml(data)
        scenario = engine.scenario(got.scenario) if got.scenario else None
        if scenario and len(saxon_text(data, tree, engine.reads(scenario))) < len(data) // 2:
            stood_in += 1
        if scenario and got.accepted:
            if scenario.schema not in schemas:
                schemas[scenario.schema] = SchemaLayer(engine.artefacts_dir / scenario.schema)
            leaves = LargeLeaves(tree, len(data))
            assert schemas[scenario.schema].check(tree, leaves) == []
            schema_stood_in += bool(leaves.standing)
    # The comparison is about documents Saxon and libxml2 really got stand-ins for.
    assert stood_in >= 30 and schema_stood_in >= 30
    assert rejected >= 4  # ... and covers rules and XSD firing on attachments


def _has_large_leaf(data: bytes) -> bool:
    root = etree.fromstring(data)
    return any(len(el.text or "") >= MIN_CHARS for el in root.iter(BINARY_UBL, BINARY_CII))


def test_saxon_sees_the_same_document_apart_from_the_stand_in(engine: Engine) -> None:
    """Names, attributes, namespaces, comments and every other text survive re-serialisation."""
    path = next(p for p in sorted(CORPUS.rglob("*.xml")) if _has_large_leaf(p.read_bytes()))
    data = path.read_bytes()
    tree = parse_xml(data)
    reads = engine.reads(engine.scenario(engine.validate(data).scenario))
    runtime = SaxonRuntime.shared()
    xpath = runtime.proc.new_xpath_processor()
    summary = (
        "string-join(for $n in //(*|@*|comment()|processing-instruction()|text()) return "
        "concat(node-name($n), '|', namespace-uri($n), '|', "
        "if ($n/self::*) then '' "
        "else if ($n/self::text() and $n/parent::*[ends-with(local-name(), 'BinaryObject')]) "
        "then 'BINARY' else string($n)), '#')"
    )
    values = []
    texts = (saxon_text(data, tree, None), saxon_text(data, tree, reads))
    for text in texts:
        xpath.set_context(xdm_item=runtime.parse(text))
        values.append(xpath.evaluate_single(summary).string_value)
    assert values[0] == values[1] and values[0].count("BINARY") >= 1
    assert len(texts[1]) < len(texts[0]) // 2 and f">{STAND_IN}</" in texts[1]


def _stylesheet_reads(body: str) -> Reads:
    return stylesheet_reads(
        etree.fromstring(
            f"""<xsl:stylesheet xmlns:xsl="{XSL}" version="3.0" xmlns:cac="{CAC}"
                  xmlns:cbc="{CBC}" xmlns:u="urn:u" xmlns:xs="http://www.w3.org/2001/XMLSchema"
                  >{body}</xsl:stylesheet>"""
        )
    )


@pytest.mark.parametrize(
    "body",
    [
        # a function of the stylesheet that hands back nodes: the caller may read them
        """<xsl:function name="u:att"><xsl:sequence select="$doc//cac:Attachment"/>
           </xsl:function><xsl:variable name="doc" select="/"/>
           <xsl:template match="/"><xsl:if test="u:att() = ''"/></xsl:template>""",
        # current() in a for-each is the for-each's item, not the template's
        """<xsl:template match="/"><xsl:for-each select="//cac:Attachment">
           <xsl:if test="//cbc:ID[. = current()]"/></xsl:for-each></xsl:template>""",
        # xsl:sort reads the nodes it sorts
        """<xsl:template match="/"><xsl:apply-templates select="//cac:Attachment">
           <xsl:sort select="."/></xsl:apply-templates></xsl:template>""",
        # a global variable's context is the document node
        """<xsl:variable name="all" select="string(.)"/>""",
        # a node-returning built-in passes its argument's nodes on
        """<xsl:template match="/"><xsl:if test="innermost(//cac:Attachment) = 'x'"/>
           </xsl:template>""",
    ],
)
def test_reads_through_functions_loops_and_variables_are_seen(body: str) -> None:
    reads = _stylesheet_reads(body)
    assert not reads.blind_to(_attachment()), sorted(reads.keys)


def test_functions_with_an_atomic_result_only_read_their_arguments() -> None:
    reads = _stylesheet_reads(
        """<xsl:function name="u:ok" as="xs:boolean"><xsl:param name="v"/>
           <xsl:sequence select="$v = 'x'"/></xsl:function>
           <xsl:template match="/"><xsl:if test="u:ok(//cbc:ID) and path(//cbc:ID) = ''"/>
           </xsl:template>"""
    )
    assert reads.blind_to(_attachment()) and not reads.unknown, (reads.keys, reads.unknown)


def test_the_setting_reaches_the_engine(installed_data_dir: Path) -> None:
    """``GATEWAY_VALIDATION_STAND_INS=false`` (or ``[validation] stand_ins``) turns them off."""
    from gateway.config import load_settings
    from gateway.validation import Validator

    env = {"GATEWAY_DATA_DIR": str(installed_data_dir), "GATEWAY_VALIDATION_JOBS": "0"}
    for value, expected in (("false", False), ("true", True)):
        settings = load_settings(env={**env, "GATEWAY_VALIDATION_STAND_INS": value})
        assert settings.validation.stand_ins is expected
        with Validator.from_settings(settings, warm=False) as validator:
            assert validator._engine is not None and validator._engine.stand_ins is expected
