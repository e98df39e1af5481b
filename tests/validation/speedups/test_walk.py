"""Rule contexts selected up front (``gateway.validation.speedups.walk``) are exact.

The rewrite on crafted stylesheets (which modes qualify, what the root then selects), then
Saxon's SVRL text with and without it - byte for byte - on the published stylesheets the
scenarios run most, over documents whose rules fire at every level (nested line findings,
empty elements, absent paths). The corpus-wide comparison of published and prepared
stylesheets (``test_optimize.py``, slow) covers every stylesheet and 1,400+ documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.validation.saxon import SaxonRuntime
from gateway.validation.speedups import optimize as optimize_module
from gateway.validation.speedups.native import XSL
from gateway.validation.speedups.walk import candidate_walks
from tests.conftest import CORPUS
from tests.validation import payloads

NS = 'xmlns:a="urn:a" xmlns:b="urn:b"'
DEFAULTS = (
    '<xsl:template match="text()" mode="M1" priority="-1"/>'
    '<xsl:template match="@*|node()" mode="M1" priority="-2">'
    '<xsl:apply-templates select="*" mode="M1"/></xsl:template>'
)


def _stylesheet(rules: str, defaults: str = DEFAULTS, extra: str = "") -> etree._Element:
    return etree.fromstring(
        f'<xsl:stylesheet xmlns:xsl="{XSL}" {NS} version="2.0">'
        '<xsl:template match="/"><out><xsl:apply-templates select="/" mode="M1"/></out>'
        f"</xsl:template>{rules}{defaults}{extra}</xsl:stylesheet>"
    )


def _rule(match: str, body: str = "<x/>") -> str:
    return (
        f'<xsl:template match="{match}" mode="M1" priority="1000">{body}'
        '<xsl:apply-templates select="*" mode="M1"/></xsl:template>'
    )


def _entry(root: etree._Element) -> str:
    calls = [c for c in root.iter(f"{{{XSL}}}apply-templates") if c.get("mode") == "M1"]
    return calls[0].get("select")


def test_the_root_selects_the_rule_contexts_and_nothing_recurses() -> None:
    root = _stylesheet(
        _rule("a:Line[b:ID = '1'] | b:Note")
        + _rule("/a:Invoice/a:Line/b:Amount")
        + _rule("(/a:Invoice[$v] | /a:Credit)/a:Line")
        + _rule("//*[ends-with(local-name(), 'Amount') and not(ancestor::a:Price)]")
        + _rule("//b:*[ends-with(local-name(), 'ID') and not (self::b:TaxID)]")
    )
    assert candidate_walks(root) == 1
    assert _entry(root) == (
        "((//Q{urn:a}Line), (//Q{urn:b}Note), (/Q{urn:a}Invoice/Q{urn:a}Line/Q{urn:b}Amount),"
        " (/Q{urn:a}Invoice/Q{urn:a}Line), (/Q{urn:a}Credit/Q{urn:a}Line),"
        " (//*[ends-with(local-name(), 'Amount') and not(ancestor::a:Price)]),"
        " (//b:*[ends-with(local-name(), 'ID') and not (self::b:TaxID)]))/."
    )
    calls = [c for c in root.iter(f"{{{XSL}}}apply-templates") if c.get("mode") == "M1"]
    assert len(calls) == 1  # the rules' and the default template's recursion are gone


def test_a_pattern_without_rules_selects_nothing() -> None:
    root = _stylesheet("")
    assert candidate_walks(root) == 1 and _entry(root) == "()"


@pytest.mark.parametrize(
    "rules, defaults, extra",
    [
        (_rule("a:Line/@id"), DEFAULTS, ""),  # an attribute can be a context
        (_rule("a:Line/text()"), DEFAULTS, ""),
        (_rule("$lines/a:Line"), DEFAULTS, ""),  # a variable selects the contexts
        (_rule("key('k', 'v')"), DEFAULTS, ""),
        (_rule("a:Line/*"), DEFAULTS, ""),  # a wildcard not at the root of the path
        (_rule("//*[. = 5]"), DEFAULTS, ""),  # a kept predicate that can fail
        (_rule("//*[current()/b:ID]"), DEFAULTS, ""),
        (_rule("//*[1]"), DEFAULTS, ""),
        (_rule("/"), DEFAULTS, ""),  # the document node
        # a rule that does not end in its recursion, or recurses elsewhere
        ('<xsl:template match="a:Line" mode="M1"><x/></xsl:template>', DEFAULTS, ""),
        (
            '<xsl:template match="a:Line" mode="M1">'
            '<xsl:apply-templates select="b:*" mode="M1"/></xsl:template>',
            DEFAULTS,
            "",
        ),
        (_rule("a:Line", body="<xsl:next-match/>"), DEFAULTS, ""),
        (_rule("a:Line"), DEFAULTS.replace('select="*"', 'select="@*|*"'), ""),
        (
            _rule("a:Line"),
            DEFAULTS.replace('priority="-1"/>', 'priority="-1"><x/></xsl:template>'),
            "",
        ),
        (_rule("a:Line"), DEFAULTS, '<xsl:mode name="M1" on-no-match="shallow-copy"/>'),
        (_rule("a:Line"), DEFAULTS, '<xsl:template match="b:X" mode="M1 M2"/>'),
        (_rule("a:Line"), DEFAULTS, '<xsl:template match="b:X" mode="#all"/>'),
        # entered from elsewhere too
        (
            _rule("a:Line"),
            DEFAULTS,
            '<xsl:template match="b:X"><xsl:apply-templates select="." mode="M1"/></xsl:template>',
        ),
    ],
)
def test_other_shapes_keep_their_walk(rules: str, defaults: str, extra: str) -> None:
    root = _stylesheet(rules, defaults, extra)
    before = etree.tostring(root)
    assert candidate_walks(root) == 0
    assert etree.tostring(root) == before


# -- Saxon: the same SVRL, byte for byte ------------------------------------------------------
LAYERS = [
    "en16931-1.3.16/EN16931-UBL-validation.xslt",
    "xrechnung-3.0.2/XRechnung-UBL-validation.xslt",
    "en16931-1.3.16/EN16931-CII-validation.xslt",
    "xrechnung-3.0.2/XRechnung-CII-validation.xslt",
    "peppol-bis-2026.5/PEPPOL-EN16931-UBL.xslt",
]


def _documents() -> list[tuple[str, str]]:
    suite = CORPUS / "xrechnung-testsuite"
    names = ["01.01a-INVOICE_ubl.xml", "01.15a-INVOICE_ubl.xml", "01.01a-INVOICE_uncefact.xml"]
    docs = [(n, next(suite.rglob(n)).read_text(encoding="utf-8-sig")) for n in names]
    docs += [
        ("bad-unit-codes-40", payloads.bad_unit_codes(40).decode()),  # findings on every line
        ("xrechnung-lines-60", payloads.xrechnung_lines(60).decode()),
        ("empty-notes", payloads.empty_notes(30, schema_valid=True).decode()),
        ("peppol-base", payloads.base_example().decode()),
    ]
    negative = sorted((CORPUS / "peppol-bis-examples").rglob("*.xml"))[:6]
    docs += [(p.name, p.read_text(encoding="utf-8-sig")) for p in negative]
    return docs


def test_svrl_is_the_same_with_and_without_the_rewrite(
    installed_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = SaxonRuntime.shared()
    docs = _documents()
    compared = findings = 0
    for layer in LAYERS:
        path = installed_data_dir / "artefacts" / layer
        walked = optimize_module.prepared_stylesheet(path)
        with monkeypatch.context() as m:
            m.setattr(optimize_module, "candidate_walks", lambda root: 0)
            plain = optimize_module.prepared_stylesheet(path)
        assert walked.text != plain.text, f"{layer}: no mode was rewritten"
        a, b = (
            runtime.xslt.compile_stylesheet(stylesheet_text=p.text, base_uri=path.as_uri())
            for p in (plain, walked)
        )
        for name, text in docs:
            node = runtime.parse(text)
            expected = _svrl(a, node)
            assert _svrl(b, node) == expected, f"{layer}: {name}"
            compared += 1
            findings += expected.count("failed-assert ")
    assert compared == len(LAYERS) * len(docs)
    assert findings > 60  # rules fired, at the root, on lines and on nested elements


def _svrl(executable: object, node: object) -> str:
    """The SVRL text, or the dynamic error a rule raised (both stylesheets must agree)."""
    try:
        return str(executable.transform_to_string(xdm_node=node))  # type: ignore[attr-defined]
    except Exception as exc:  # saxonche raises its own PySaxonApiError
        return f"error: {str(exc).split(':')[0]}"
