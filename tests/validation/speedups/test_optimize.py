"""The stylesheet rewrites of ``gateway.validation.speedups.optimize`` are exact.

Three levels: the rewrite itself on crafted expressions and stylesheets; Saxon evaluating the
original and the rewritten expression on tricky values; and the published stylesheets against
the rewritten ones over the whole corpus (plus mutated documents that fail code-list rules),
finding for finding.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from gateway.documents import identify, parse_xml
from gateway.validation import Engine
from gateway.validation.report import RawFinding
from gateway.validation.saxon import SaxonRuntime
from gateway.validation.scenarios import select
from gateway.validation.schematron import parse_svrl
from gateway.validation.speedups import absent
from gateway.validation.speedups.absent import AbsentPaths
from gateway.validation.speedups.locations import full_path
from gateway.validation.speedups.native import EmptyElementPattern, NativeCheck
from gateway.validation.speedups.optimize import (
    MAP_CONTAINS,
    XSL,
    Prepared,
    hash_code_lists,
    local_name_suffixes,
    optimize,
    prepared_stylesheet,
    skip_attribute_walk,
)
from tests.conftest import CORPUS
from tests.validation import payloads

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


# -- empty-element patterns -------------------------------------------------------------------
XR_UBL = "xrechnung-3.0.2/XRechnung-UBL-validation.xslt"
R008_MATCH = "//*[not(*) and not(normalize-space())]"


@pytest.mark.parametrize(
    "old, new",
    [
        (R008_MATCH, "//*[not(*) and string-length(.) = 0]"),  # predicate outside the grammar
        (R008_MATCH, "//cbc:Note[not(*) and not(normalize-space())]"),  # not every element
        ('<xsl:when test="false()" />', '<xsl:when test="@x" />'),  # not an unconditional fail
        ("[namespace-uri()='</xsl:text>", "[ns()='</xsl:text>"),  # other location format
    ],
)
def test_empty_element_pattern_is_taken_out_only_in_its_exact_shape(
    installed_data_dir: Path, old: str, new: str
) -> None:
    text = (installed_data_dir / "artefacts" / XR_UBL).read_text()
    assert len(_prepared(text).native) == 1
    assert old in text
    changed = _prepared(text.replace(old, new))
    assert changed.native == ()
    assert "urn:einvoice-gateway:native-pattern" not in changed.text


def _prepared(text: str) -> Prepared:
    root = etree.fromstring(text.encode())
    native: list = []
    optimize(root, native)
    return Prepared(etree.tostring(root, encoding="unicode"), tuple(native))


def test_full_path_is_the_skeleton_location() -> None:
    root = etree.fromstring(
        b'<r:Doc xmlns:r="urn:r" xmlns:o="urn:o"><r:A/><o:A/><plain/><r:A><p:B xmlns:p="urn:r"/>'
        b"<r:B/></r:A><plain/></r:Doc>"
    )
    paths = [full_path(el) for el in root.iter(etree.Element)]
    assert paths == [
        "/*:Doc[namespace-uri()='urn:r'][1]",
        "/*:Doc[namespace-uri()='urn:r'][1]/*:A[namespace-uri()='urn:r'][1]",
        "/*:Doc[namespace-uri()='urn:r'][1]/*:A[namespace-uri()='urn:o'][1]",
        "/*:Doc[namespace-uri()='urn:r'][1]/plain[1]",
        "/*:Doc[namespace-uri()='urn:r'][1]/*:A[namespace-uri()='urn:r'][2]",
        "/*:Doc[namespace-uri()='urn:r'][1]/*:A[namespace-uri()='urn:r'][2]/*:B[namespace-uri()='urn:r'][1]",
        "/*:Doc[namespace-uri()='urn:r'][1]/*:A[namespace-uri()='urn:r'][2]/*:B[namespace-uri()='urn:r'][2]",
        "/*:Doc[namespace-uri()='urn:r'][1]/plain[2]",
    ]


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


# -- name suffixes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("//ram:*[ends-with(name(), 'Quantity')]", "//ram:*[ends-with(local-name(), 'Quantity')]"),
        (
            "ends-with(name(),'A') and not(ends-with( name( ) , \"ID\" ))",
            "ends-with(local-name(), 'A') and not(ends-with(local-name(), \"ID\"))",
        ),
        ("concat('ends-with(name(), ''X'')', 1)", None),  # inside a string literal
        ("my-ends-with(name(), 'X')", None),  # another function
        ("ends-with(name(), 'a:b')", None),  # a colon in the suffix: not equivalent
        ("ends-with(name(.), 'X')", None),
        (
            "ends-with(name(), 'X', 'http://www.w3.org/2005/xpath-functions/collation/codepoint')",
            None,
        ),
        ("starts-with(name(), 'X')", None),
    ],
)
def test_name_suffix_tests_use_the_local_name(expr: str, expected: str | None) -> None:
    root = _stylesheet(
        '<xsl:template match="x" mode="M1"><xsl:if test="true()">'
        '<svrl:failed-assert xmlns:svrl="http://purl.oclc.org/dsdl/svrl" test="t"/>'
        "</xsl:if></xsl:template>"
    )
    template, test = root[0], root.find(f".//{{{XSL}}}if")
    template.set("match", expr)
    test.set("test", expr)
    root.find(".//{*}failed-assert").set("test", expr)  # what the report shows: kept as is
    rewritten = 0 if expected is None else expected.count("local-name()")
    assert local_name_suffixes(root) == 2 * rewritten  # in the pattern and in the test
    assert template.get("match") == test.get("test") == (expected or expr)
    assert root.find(".//{*}failed-assert").get("test") == expr


def test_name_and_local_name_suffixes_agree_in_saxon() -> None:
    """Every element and attribute of a document whose prefixes end like the suffixes."""
    runtime = SaxonRuntime.shared()
    xpath = runtime.proc.new_xpath_processor()
    doc = runtime.parse(
        '<ID:Doc xmlns:ID="urn:a" xmlns:xQuantity="urn:b" xmlns="urn:c" a:ID="1" xmlns:a="urn:d">'
        '<xQuantity:Foo/><ID:ID/><BilledQuantity/><xQuantity:Quantity ID="2"/>'
        "<ID:Quantity/><Quantity/><?ID x?><!--ID--></ID:Doc>"
    )
    xpath.set_context(xdm_item=doc)
    for suffix in ("ID", "Quantity", "Doc", "y", "", "D:Doc"):
        pairs = xpath.evaluate_single(
            f"string-join(for $n in //(*|@*|processing-instruction()|comment()) return "
            f"concat(string(ends-with($n/name(), '{suffix}')), "
            f"string(ends-with($n/local-name(), '{suffix}'))), ' ')"
        ).string_value.split()
        assert len(pairs) == 11  # 7 elements, 2 attributes, a PI, a comment
        same = {p for p in pairs if p in ("truetrue", "falsefalse")}
        if ":" in suffix:
            assert "truefalse" in pairs  # why a colon in the suffix is left alone
        else:
            assert len(same) >= 1 and set(pairs) == same, (suffix, pairs)


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


def _absent_paths(data: bytes, stylesheet: Path) -> list[bytes]:
    """Copies that break absent-path asserts (UBL-CR-*, CII-SR-*): every 15th taken assert's
    path is created under the last element its rule fires on (for line items: not the first,
    so the rule's k-th firing is exercised), plus one copy that breaks all of them at once."""
    runs = [n for n in prepared_stylesheet(stylesheet).native if isinstance(n, AbsentPaths)]
    out = []
    everything = etree.fromstring(data)
    for i, (run, check) in enumerate((r, a) for r in runs for a in r.asserts):
        for root in (etree.fromstring(data), everything) if i % 15 == 0 else (everything,):
            contexts = etree.XPath(run.match, namespaces=dict(run.namespaces))(root)
            if not contexts:
                continue
            node = contexts[-1]
            steps = re.sub(r"^\(([^|)]+)\|[^)]*\)", r"\1", check.path).split("/")
            for step in steps:
                prefix, _, local = step.strip().rpartition(":")
                tag = f"{{{dict(run.namespaces)[prefix]}}}{local}" if prefix else local
                node = etree.SubElement(node, tag)
            node.text = "x"
            if root is not everything:
                out.append(etree.tostring(root))
    out.append(etree.tostring(everything))
    return out


def _native_rules(native: tuple[NativeCheck, ...]) -> set[str]:
    ids = set()
    for check in native:
        if isinstance(check, AbsentPaths):
            ids |= {a.rule for a in check.asserts}
        elif isinstance(check, EmptyElementPattern):
            ids.add(check.rule)
    return ids


def _empty_elements(data: bytes) -> list[bytes]:
    """Copies with empty elements in every form the empty-element rules must see or ignore:
    no content, blanks, only a comment or PI, text after a comment, an emptied aggregate
    (for CII, ``ram:ApplicableHeaderTradeDelivery``, which XRechnung exempts)."""
    forms = [
        lambda el: setattr(el, "text", None),
        lambda el: setattr(el, "text", " \n\t "),
        lambda el: (setattr(el, "text", " "), el.append(etree.Comment("c"))),
        lambda el: (setattr(el, "text", None), el.append(etree.PI("gw", "x"))),
        lambda el: (setattr(el, "text", None), el.append(etree.Comment("c")), _tail(el[-1])),
    ]
    out = []
    for step in (3, 4):
        root = etree.fromstring(data)
        leaves = [el for el in root.iter(etree.Element) if _free_text(el)][1::step]
        for i, el in enumerate(leaves):
            forms[i % len(forms)](el)
        for el in root.iter("{*}ApplicableHeaderTradeDelivery", "{*}AccountingCustomerParty"):
            el[:] = []
            el.text = " " if step == 3 else None
        out.append(etree.tostring(root))
    return out


def _line_periods() -> list[bytes]:
    """Line periods inside, before and after the invoice period, missing start or end dates,
    two invoice periods (a dynamic error in the published rule), a credit note, and an
    Invoice nested in an extension: what PEPPOL-EN16931-R110/R111 look at."""
    base = payloads.peppol_lines(3).decode()
    xr = payloads.xrechnung_lines(4).decode()
    head = "<cac:InvoicePeriod><cbc:StartDate>2017-11-01</cbc:StartDate>"
    out = [base, xr]
    out.append(base.replace("2017-11-02", "2017-10-02", 1).replace("2017-11-29", "2017-12-29"))
    out.append(base.replace("<cbc:StartDate>2017-11-02</cbc:StartDate>", "", 2))
    out.append(base.replace("<cbc:EndDate>2017-11-30</cbc:EndDate>", "", 1))
    out.append(base.replace(head, head.replace("<cbc:StartDate>2017-11-01</cbc:StartDate>", "")))
    out.append(base.replace(head, head + "</cac:InvoicePeriod>" + head, 1))  # two periods
    out.append(re.sub(r"<cac:InvoicePeriod>.*?</cac:InvoicePeriod>\n", "", base, count=1))
    inner = (
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
        "<cac:InvoicePeriod><cbc:StartDate>2018-01-01</cbc:StartDate>"
        "<cbc:EndDate>2018-01-31</cbc:EndDate></cac:InvoicePeriod><cac:InvoiceLine>"
        "<cac:InvoicePeriod><cbc:StartDate>2017-12-01</cbc:StartDate>"
        "<cbc:EndDate>2018-02-01</cbc:EndDate></cac:InvoicePeriod></cac:InvoiceLine></Invoice>"
    )
    ext = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
    extension = (
        f'<ext:UBLExtensions xmlns:ext="{ext}"><ext:UBLExtension><ext:ExtensionContent>'
        f"{inner}</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>"
    )
    out.append(base.replace("<cbc:CustomizationID>", extension + "<cbc:CustomizationID>", 1))
    credit = base.replace("<Invoice ", "<CreditNote ").replace("</Invoice>", "</CreditNote>")
    credit = credit.replace("Invoice-2", "CreditNote-2").replace("InvoiceLine>", "CreditNoteLine>")
    credit = credit.replace("InvoicedQuantity", "CreditedQuantity").replace(
        "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
        "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>",
    )
    out.append(credit)
    out.append(credit.replace("2017-11-29", "2017-12-29"))
    return [d.encode() for d in out]


def _free_text(el: etree._Element) -> bool:
    """A leaf holding free text (names, notes, addresses): emptying it breaks no arithmetic
    or date rule, so the stylesheets run to the end instead of raising a dynamic error."""
    typed = ("Code", "Date", "Amount", "Quantity", "Percent", "Numeric", "Indicator", "ID")
    return (
        len(el) == 0
        and any(c.isalpha() for c in el.text or "")
        and not etree.QName(el).localname.endswith(typed)
    )


def _tail(node: etree._Element) -> None:
    node.tail = "not empty"


def _corpus(artefacts: Path) -> list[tuple[str, bytes, str | None]]:
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
        docs += [(f"{name}~empty{i}", m, None) for i, m in enumerate(_empty_elements(source))]
    for name, old, new in (
        ("01.01a-INVOICE_uncefact.xml", "ram", "TradeTax"),  # prefix = a tested suffix
        ("01.01a-INVOICE_uncefact.xml", "ram", "xID"),
        ("01.01a-INVOICE_ubl.xml", "cbc", "Amount"),
        ("01.01a-INVOICE_ubl.xml", "cac", "BinaryObject"),
    ):
        source = next((CORPUS / "xrechnung-testsuite").rglob(name)).read_bytes()
        renamed = re.sub(
            rb"(xmlns:|</?)" + old.encode() + rb"(?=[:=])", rb"\1" + new.encode(), source
        )
        assert renamed.count(new.encode()) > 10 and f"{old}:".encode() not in renamed
        docs.append((f"{name}~{new}", renamed, None))
    # Long assert texts (BR-CL-23's code list) on every line; line periods (R110/R111).
    docs += [("bad-unit-codes", payloads.bad_unit_codes(4), None)]
    # Line-level findings under many same-name siblings (keyed positions).
    docs += [("bad-unit-codes-40", payloads.bad_unit_codes(40), None)]
    docs += [(f"line-periods{i}", m, None) for i, m in enumerate(_line_periods())]
    en16931 = next(artefacts.rglob("EN16931-UBL-validation.xslt"))
    source = next((CORPUS / "xrechnung-testsuite").rglob("01.01a-INVOICE_ubl.xml")).read_bytes()
    docs += [(f"absent{i}", m, None) for i, m in enumerate(_absent_paths(source, en16931))]
    return docs


@pytest.mark.slow  # 1,400+ documents through both stylesheets: ~26 s quiet (make test-slow, CI)
def test_rewritten_stylesheets_find_exactly_what_the_published_ones_find(engine: Engine) -> None:
    by_file: dict[Path, list[tuple[str, str]]] = defaultdict(list)
    for name, data, forced in _corpus(engine.artefacts_dir):
        tree = parse_xml(data)
        scenario = engine.scenario(forced) if forced else select(engine.scenarios, identify(tree))
        if scenario is None:
            continue
        for layer in scenario.schematron:
            by_file[engine.artefacts_dir / layer.file].append((name, data.decode("utf-8-sig")))
    assert len(by_file) >= 8  # EN 16931 (UBL, CII), XRechnung (UBL, CII), Peppol, T111, MLS...
    compared = failing_docs = 0
    fired: dict[str, int] = defaultdict(int)
    for path, docs in sorted(by_file.items()):
        prepared = prepared_stylesheet(path)
        if path.name.startswith(("XRechnung", "PEPPOL")):
            assert prepared.native, f"{path.name}: the empty-element pattern was not taken out"
        fired[path.name], failing = _compare(path, prepared, docs)
        compared += len(docs)
        failing_docs += failing
    assert compared > 1300
    assert failing_docs > 500  # the comparison covers failing rules, not only clean documents
    # ... and empty elements, in every form, in both syntaxes
    assert fired["XRechnung-UBL-validation.xslt"] > 10, fired
    assert fired["XRechnung-CII-validation.xslt"] > 10, fired
    # ... and absent-path asserts, one by one and many at once
    assert fired["EN16931-UBL-validation.xslt"] > 600, fired


def test_short_absent_path_runs_would_be_exact_too(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CII rules' runs are too short to pay (MIN_RUN); taken out anyway, they must find
    the same - including rules that fire on every line item (the k-th marker, k-th item)."""
    monkeypatch.setattr(absent, "MIN_RUN", 1)
    path = next(engine.artefacts_dir.rglob("EN16931-CII-validation.xslt"))
    prepared = prepared_stylesheet(path)
    assert sum(len(n.asserts) for n in prepared.native if isinstance(n, AbsentPaths)) > 400
    docs = [
        (p.name, p.read_text(encoding="utf-8-sig"))
        for p in sorted((CORPUS / "xrechnung-testsuite").rglob("*_uncefact.xml"))
    ]
    source = next((CORPUS / "xrechnung-testsuite").rglob("01.01a-INVOICE_uncefact.xml"))
    mutated = _absent_paths(source.read_bytes(), path)
    docs += [(f"absent{i}", m.decode()) for i, m in enumerate(mutated)]
    fired, failing = _compare(path, prepared, docs)
    assert fired > 400 and failing > 20


def _compare(path: Path, prepared: Prepared, docs: list[tuple[str, str]]) -> tuple[int, int]:
    """Published vs prepared stylesheet on every document, finding for finding; returns how
    many findings came from native checks, and how many documents had findings."""
    runtime = SaxonRuntime.shared()
    published = runtime.xslt.compile_stylesheet(stylesheet_file=str(path))
    rewritten = runtime.xslt.compile_stylesheet(
        stylesheet_text=prepared.text, base_uri=path.as_uri()
    )
    assert published is not None and rewritten is not None, runtime.xslt.error_message
    ids = _native_rules(prepared.native)
    fired = failing = 0
    for name, text in docs:
        node = runtime.parse(text)
        tree = parse_xml(text.encode("utf-8"))
        expected = _outcome(published, node)
        got = _outcome(rewritten, node, prepared.native, tree, prepared.tests)
        assert got == expected, f"{path.name}: {name}"
        if isinstance(got, list):
            fired += sum(f.rule in ids for f in got)
        failing += bool(expected)
    return fired, failing


def _outcome(
    executable: object,
    node: object,
    native: tuple[NativeCheck, ...] = (),
    tree: etree._ElementTree | None = None,
    tests: tuple[str, ...] = (),
) -> list[RawFinding] | str:
    """The findings, or the dynamic error a rule raised (mutated documents can make the
    published rules fail, e.g. ``xs:decimal('')``; the rewritten ones must fail alike)."""
    try:
        svrl = executable.transform_to_string(xdm_node=node)  # type: ignore[attr-defined]
    except Exception as exc:  # saxonche raises its own PySaxonApiError
        return f"error: {str(exc).split(':')[0]}"
    assert svrl is not None
    return parse_svrl(svrl, native, tree, tests)


# -- absent-path asserts ----------------------------------------------------------------------
EN_UBL = "en16931-1.3.16/EN16931-UBL-validation.xslt"
DELIVERY = '<xsl:template match="cac:Delivery" mode="M12" priority="1010">'
SUBTOTAL = '<xsl:template match="cac:TaxSubtotal" mode="M12" priority="1000">'
ROOT_RULE = '<xsl:template match="/ubl:Invoice | /cn:CreditNote" mode="M12" priority="1006">'


def _absent(prepared: Prepared) -> int:
    return sum(len(n.asserts) for n in prepared.native if isinstance(n, AbsentPaths))


@pytest.mark.parametrize(
    "old, new, taken",
    [
        # A rule of higher priority that may match the root element would fire instead.
        (DELIVERY, DELIVERY.replace("cac:Delivery", "*"), False),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "ubl:*"), False),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "*:Invoice"), False),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "//ubl:Invoice"), False),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "*[ends-with(name(), 'voice')]"), False),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "*[ends-with(name(), 'e') or true()]"), False),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "node()"), False),
        # ... one that cannot, or one of lower priority, changes nothing.
        (DELIVERY, DELIVERY.replace("cac:Delivery", "*[ends-with(name(), 'Note')]"), False),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "*[ends-with(name(), 'Line')]"), True),
        (DELIVERY, DELIVERY.replace("cac:Delivery", "cac:Invoice"), True),
        (SUBTOTAL, SUBTOTAL.replace("cac:TaxSubtotal", "*"), True),
        # The rule must fire on exactly what an absolute path of plain names selects.
        (ROOT_RULE, ROOT_RULE.replace("/ubl:Invoice", "ubl:Invoice"), False),
        (ROOT_RULE, ROOT_RULE.replace("/ubl:Invoice", "/ubl:Invoice[cbc:ID]"), False),
        (ROOT_RULE, ROOT_RULE.replace(' priority="1006"', ""), False),
    ],
)
def test_absent_path_asserts_are_taken_out_only_where_their_rule_surely_fires(
    installed_data_dir: Path, old: str, new: str, taken: bool
) -> None:
    text = (installed_data_dir / "artefacts" / EN_UBL).read_text()
    baseline = _absent(_prepared(text))
    assert baseline == 640  # UBL-CR-*: runs of 408 and 232 (runs of 1 and 2 stay in Saxon)
    assert old in text
    assert _absent(_prepared(text.replace(old, new))) == (baseline if taken else 0)


@pytest.mark.parametrize(
    "test",
    [
        "not(cbc:UUID[1])",  # a predicate
        "not(.//cbc:UUID)",  # another axis
        "not(cbc:UUID/@id)",  # an attribute
        "not(cbc:UUID) or true()",  # more than a path
        "not(cbc:UUID/*)",  # a wildcard
        "not(u:UUID)",  # a prefix the stylesheet binds elsewhere
    ],
)
def test_only_plain_paths_are_taken(installed_data_dir: Path, test: str) -> None:
    text = (installed_data_dir / "artefacts" / EN_UBL).read_text()
    original = "not(cbc:UUID)"
    assert text.count(f'test="{original}"') == 2  # the when and the failed-assert
    changed = _prepared(text.replace(f'test="{original}"', f'test="{test}"'))
    assert _absent(changed) < 640  # that assert (and a run cut too short) stays in Saxon
    assert test.replace("<", "&lt;") in changed.text
