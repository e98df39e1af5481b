"""Name-suffix scans selected by name (``gateway.validation.speedups.suffix_names``) are exact.

The rewrite on crafted stylesheets, the per-document guard, then Saxon's SVRL text with and
without the rewrite - byte for byte - on the EN 16931 UBL layer, over documents whose elements
all have names the stylesheet knows (the names are selected) and documents with one it does
not know (the original scan runs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.validation.saxon import SaxonRuntime
from gateway.validation.speedups import optimize as optimize_module
from gateway.validation.speedups.native import XSL
from gateway.validation.speedups.suffix_names import (
    SuffixGuard,
    element_tags,
    needs_scan,
    suffix_names,
)
from tests.conftest import CORPUS
from tests.validation import payloads

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = f'xmlns:a="urn:a" xmlns:cbc="{CBC}"'


def _stylesheet(select: str, extra: str = "") -> etree._Element:
    return etree.fromstring(
        f'<xsl:stylesheet xmlns:xsl="{XSL}" {NS} version="2.0">'
        f'<xsl:template match="/"><xsl:apply-templates select="{select}" mode="M1"/>'
        f'</xsl:template><xsl:template match="cbc:TaxAmount | a:TotalAmount | a:Note" mode="M1">'
        f"<x/></xsl:template>{extra}</xsl:stylesheet>"
    )


def _select(root: etree._Element) -> str:
    return next(root.iter(f"{{{XSL}}}apply-templates")).get("select")


def test_a_suffix_scan_becomes_a_guarded_union_of_the_known_names() -> None:
    scan = "//*[ends-with(local-name(), 'Amount') and not(ancestor::a:Price)]"
    root = _stylesheet(f"((//Q{{urn:a}}Line), ({scan}))/.")
    guards = suffix_names(root)
    assert guards == (
        SuffixGuard("gw-sfx-0", "Amount", frozenset({f"{{{CBC}}}TaxAmount", "{urn:a}TotalAmount"})),
    )
    predicate = scan[4:-1]
    assert _select(root) == (
        f"((//Q{{urn:a}}Line), (if ($gw-sfx-0) then //*[{predicate}] else "
        f"(//Q{{urn:a}}TotalAmount | //Q{{{CBC}}}TaxAmount)[{predicate}]))/."
    )
    params = [p for p in root if p.tag == f"{{{XSL}}}param"]
    assert [(p.get("name"), p.get("select")) for p in params] == [("gw-sfx-0", "true()")]


@pytest.mark.parametrize(
    "select",
    [
        "((//*[ends-with(local-name(), 'Amount') or a:X]))/.",  # not a conjunction
        "((//*[ends-with(local-name(), 'Amount') and a:X or a:Y]))/.",  # (A and B) or C
        "((//*[ends-with(local-name(), 'Quantity')]))/.",  # no known name ends so
        "((//*[starts-with(local-name(), 'Amount')]))/.",
        "((//a:*[ends-with(local-name(), 'Amount')]))/.",
    ],
)
def test_other_scans_are_left_alone(select: str) -> None:
    root = _stylesheet(select)
    assert suffix_names(root) == () and _select(root) == select


def test_the_guard_asks_for_the_scan_when_a_name_is_unknown() -> None:
    guard = SuffixGuard("p", "Amount", frozenset({f"{{{CBC}}}TaxAmount"}))

    def tags(xml: str) -> set[str]:
        return element_tags(etree.ElementTree(etree.fromstring(xml)))

    assert not needs_scan(guard, tags(f"<a:R {NS}><cbc:TaxAmount/><a:Note/><!--c--></a:R>"))
    assert needs_scan(guard, tags(f"<a:R {NS}><a:TaxAmount/></a:R>"))  # other namespace
    assert needs_scan(guard, tags(f"<a:R {NS}><cbc:FooAmount/></a:R>"))
    assert needs_scan(guard, tags("<R><Amount/></R>"))  # no namespace
    assert not needs_scan(guard, tags(f"<a:R {NS}><a:Amounts/></a:R>"))


# -- Saxon: the same SVRL, byte for byte ------------------------------------------------------
def _documents() -> list[tuple[str, str]]:
    suite = CORPUS / "xrechnung-testsuite"
    base = next(suite.rglob("01.01a-INVOICE_ubl.xml")).read_text(encoding="utf-8-sig")
    docs = [
        (p.name, p.read_text(encoding="utf-8-sig")) for p in sorted(suite.rglob("*_ubl.xml"))[:8]
    ]
    docs += [
        ("xrechnung-lines-60", payloads.xrechnung_lines(60).decode()),
        ("bad-unit-codes-40", payloads.bad_unit_codes(40).decode()),
        ("peppol-base", payloads.base_example().decode()),
        # names the stylesheet does not know: the guard runs the original scan
        (
            "unknown-amount",
            base.replace("<cbc:IssueDate>", "<cbc:FooAmount>x</cbc:FooAmount><cbc:IssueDate>", 1),
        ),
        (
            "foreign-amount",
            base.replace(
                "<cbc:IssueDate>",
                '<x:PayableAmount xmlns:x="urn:x">1.234</x:PayableAmount><cbc:IssueDate>',
                1,
            ),
        ),
    ]
    docs += [
        (p.name, p.read_text(encoding="utf-8-sig"))
        for p in sorted((CORPUS / "peppol-bis-examples").rglob("*.xml"))[:4]
    ]
    return docs


def test_svrl_is_the_same_with_and_without_the_rewrite(
    installed_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = SaxonRuntime.shared()
    path = installed_data_dir / "artefacts" / "en16931-1.3.16/EN16931-UBL-validation.xslt"
    rewritten = optimize_module.prepared_stylesheet(path)
    with monkeypatch.context() as m:
        m.setattr(optimize_module, "suffix_names", lambda root: ())
        plain = optimize_module.prepared_stylesheet(path)
    assert {g.suffix for g in rewritten.guards} == {"Amount", "BinaryObject"}
    a, b = (
        runtime.xslt.compile_stylesheet(stylesheet_text=p.text, base_uri=path.as_uri())
        for p in (plain, rewritten)
    )
    scans = {True: 0, False: 0}
    findings = 0
    for name, text in _documents():
        node = runtime.parse(text)
        tags = element_tags(etree.ElementTree(etree.fromstring(text.encode("utf-8"))))
        expected = _svrl(a, node)
        for guard in rewritten.guards:
            scan = needs_scan(guard, tags)
            scans[scan] += 1
            b.set_parameter(guard.param, runtime.proc.make_boolean_value(scan))
        assert _svrl(b, node) == expected, name
        findings += expected.count("failed-assert ")
    assert scans[True] >= 2 and scans[False] > 20  # both ways taken
    assert findings > 40


def _svrl(executable: object, node: object) -> str:
    try:
        return str(executable.transform_to_string(xdm_node=node))  # type: ignore[attr-defined]
    except Exception as exc:  # saxonche raises its own PySaxonApiError
        return f"error: {str(exc).split(':')[0]}"
