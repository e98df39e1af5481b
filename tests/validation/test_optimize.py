"""The stylesheet rewrites of ``gateway.validation.optimize`` are exact.

Three levels: the rewrite itself on crafted expressions and stylesheets; Saxon evaluating the
original and the rewritten expression on tricky values; and the published stylesheets against
the rewritten ones over the whole corpus (plus mutated documents that fail code-list rules),
finding for finding.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from gateway.documents import identify, parse_xml
from gateway.validation import Engine
from gateway.validation.layers import RawFinding, SaxonRuntime, parse_svrl
from gateway.validation.optimize import (
    MAP_CONTAINS,
    XSL,
    hash_code_lists,
    prepared_stylesheet,
    skip_attribute_walk,
)
from gateway.validation.scenarios import select
from tests.conftest import CORPUS

LIST = "contains(' AA AB AC ', concat(' ', normalize-space(.), ' '))"


def _stylesheet(body: str) -> etree._Element:
    return etree.fromstring(
        f'<xsl:stylesheet xmlns:xsl="{XSL}" version="2.0">{body}</xsl:stylesheet>'
    )


def _rewrite(test: str) -> tuple[str, int]:
    root = _stylesheet('<xsl:template match="/"><xsl:if test="true()"/></xsl:template>')
    root.find(f".//{{{XSL}}}if").set("test", test)  # set, not parsed: a tab stays a tab
    n = hash_code_lists(root)
    return root.find(f".//{{{XSL}}}if").get("test"), n


# -- the rewrite ----------------------------------------------------------------------------
def test_code_list_test_becomes_a_map_lookup_with_the_original_as_fallback() -> None:
    new, n = _rewrite(f"(not(contains(normalize-space(.), ' ')) and {LIST})")
    assert n == 1
    assert MAP_CONTAINS in new and "'AA':true()" in new and "'AC':true()" in new
    assert "then contains(' AA AB AC ', concat(' ', $gw-v, ' '))" in new
    assert new.startswith("(not(contains(normalize-space(.), ' ')) and (let $gw-v")


@pytest.mark.parametrize(
    "arg", ["@schemeID", "upper-case(.)", "substring-before(concat(., ')'), ')')"]
)
def test_code_list_argument_may_be_any_balanced_expression(arg: str) -> None:
    new, n = _rewrite(f"contains(' X Y ', concat(' ', normalize-space({arg}), ' '))")
    assert n == 1 and f"normalize-space({arg})" in new


def test_several_code_lists_in_one_test() -> None:
    other = LIST.replace("(.)", "(@listID)")
    _, n = _rewrite(f"{LIST} or {other}")
    assert n == 2


@pytest.mark.parametrize(
    "test",
    [
        "contains('AA AB ', concat(' ', normalize-space(.), ' '))",  # no leading space
        "contains(' AA  AB ', concat(' ', normalize-space(.), ' '))",  # empty token
        "contains(' AA\tAB ', concat(' ', normalize-space(.), ' '))",  # tab inside a token
        "contains(' AA AB ', concat(' ', ., ' '))",  # not normalised: spaces may remain
        "contains(' AA AB ', concat('-', normalize-space(.), '-'))",
        "contains(' AA AB ', normalize-space(.))",
    ],
)
def test_other_shapes_are_left_alone(test: str) -> None:
    assert _rewrite(test) == (test, 0)


def test_attribute_walk_is_kept_where_a_rule_can_match_an_attribute() -> None:
    root = _stylesheet(
        '<xsl:template match="cbc:ID[@schemeID]" mode="M1" xmlns:cbc="c">'
        '<xsl:apply-templates select="@*|*" mode="M1"/></xsl:template>'
        '<xsl:template match="@*|node()" mode="M1" priority="-2">'
        '<xsl:apply-templates select="@*|*" mode="M1"/></xsl:template>'
        '<xsl:template match="cbc:ID/@schemeID" mode="M2" xmlns:cbc="c">'
        '<xsl:apply-templates select="@*|*" mode="M2"/></xsl:template>'
    )
    assert skip_attribute_walk(root) == 2
    selects = {(a.get("mode"), a.get("select")) for a in root.iter(f"{{{XSL}}}apply-templates")}
    assert selects == {("M1", "*"), ("M2", "@*|*")}


# -- Saxon agrees on tricky values ----------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "AA",
        "AC",
        "AD",
        "",
        "   ",
        "AA AB",
        "AB AA",
        "AA \n AB",
        "\tAC\n",
        "A",
        "AAB",
        "aa",
        "AB AC AA",
    ],
)
@pytest.mark.parametrize("arg", [".", "upper-case(.)"])
def test_rewritten_expression_gives_the_same_answer(saxon_eval, value: str, arg: str) -> None:
    original = LIST.replace("(.)", f"({arg})")
    rewritten, n = _rewrite(original)
    assert n == 1
    assert saxon_eval(original, value) == saxon_eval(rewritten, value)


@pytest.fixture(scope="module")
def saxon_eval():
    """Evaluate an XPath boolean against ``<v>value</v>`` with the process's Saxon."""
    runtime = SaxonRuntime.shared()
    xpath = runtime.proc.new_xpath_processor()

    def evaluate(expr: str, value: str) -> bool:
        doc = etree.Element("v")
        doc.text = value
        node = runtime.parse(etree.tostring(doc, encoding="unicode"))
        xpath.set_context(xdm_item=node.children[0])
        result = xpath.evaluate_single(expr)
        assert result is not None, (expr, xpath.error_message)
        return result.string_value == "true"

    return evaluate


# -- published vs rewritten over the corpus -------------------------------------------------
CODED = ("currencyID", "unitCode", "schemeID", "listID", "mimeCode")
TRICKY = ["", "  ", "ZZZ", " EUR ", "EUR USD", "eur", "\tC62\n", "C62 H87"]


def _mutations(data: bytes) -> list[bytes]:
    """Copies with every coded value (``*Code`` elements and code attributes) set to a value
    that is empty, blank, unknown, padded, several words or the wrong case."""
    out = []
    for value in TRICKY:
        root = etree.fromstring(data)
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            if etree.QName(el).localname.endswith("Code") and len(el) == 0:
                el.text = value
            for attr in CODED:
                if attr in el.attrib:
                    el.set(attr, value)
        out.append(etree.tostring(root))
    return out


def _corpus() -> list[tuple[str, bytes, str | None]]:
    docs: list[tuple[str, bytes, str | None]] = []
    for folder in (
        "xrechnung-testsuite",
        "peppol-bis-examples",
        "peppol-invoice-response",
        "peppol-mls",
        "en16931-examples",
    ):
        for path in sorted((CORPUS / folder).rglob("*")):
            if path.suffix.lower() == ".xml":
                docs.append((path.name, path.read_bytes(), None))
    vefa = "{http://difi.no/xsd/vefa/validator/1.0}"
    for path in sorted((CORPUS / "en16931-unit").rglob("*.xml")):
        for i, test in enumerate(etree.parse(str(path)).getroot().iter(f"{vefa}test")):
            doc = next(c for c in test if isinstance(c.tag, str) and not c.tag.startswith(vefa))
            kind = "creditnote" if etree.QName(doc).localname == "CreditNote" else "invoice"
            docs.append((f"{path.name}#{i}", etree.tostring(doc), f"en16931-ubl-{kind}"))
    for name in ("01.01a-INVOICE_ubl.xml", "01.01a-INVOICE_uncefact.xml"):
        source = next((CORPUS / "xrechnung-testsuite").rglob(name)).read_bytes()
        docs += [(f"{name}~{i}", m, None) for i, m in enumerate(_mutations(source))]
    return docs


def test_rewritten_stylesheets_find_exactly_what_the_published_ones_find(engine: Engine) -> None:
    by_file: dict[Path, list[tuple[str, str]]] = defaultdict(list)
    for name, data, forced in _corpus():
        tree = parse_xml(data)
        scenario = engine.scenario(forced) if forced else select(engine.scenarios, identify(tree))
        if scenario is None:
            continue
        for layer in scenario.schematron:
            by_file[engine.artefacts_dir / layer.file].append((name, data.decode("utf-8-sig")))
    assert len(by_file) >= 8  # EN 16931 (UBL, CII), XRechnung (UBL, CII), Peppol, T111, MLS...
    runtime = SaxonRuntime.shared()
    compared = 0
    failing_docs = 0
    for path, docs in sorted(by_file.items()):
        published = runtime.xslt.compile_stylesheet(stylesheet_file=str(path))
        rewritten = runtime.xslt.compile_stylesheet(
            stylesheet_text=prepared_stylesheet(path), base_uri=path.as_uri()
        )
        assert published is not None and rewritten is not None, runtime.xslt.error_message
        for name, text in docs:
            node = runtime.parse(text)
            expected = _findings(published, node)
            assert _findings(rewritten, node) == expected, f"{path.name}: {name}"
            compared += 1
            failing_docs += bool(expected)
    assert compared > 1300
    assert failing_docs > 500  # the comparison covers failing rules, not only clean documents


def _findings(executable: object, node: object) -> list[RawFinding]:
    svrl = executable.transform_to_string(xdm_node=node)  # type: ignore[attr-defined]
    assert svrl is not None
    return parse_svrl(svrl)
