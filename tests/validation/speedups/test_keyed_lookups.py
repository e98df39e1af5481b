"""Document-wide lookups answered through keys (``speedups.keyed_lookups``) are exact.

The rewrite on crafted tests (what is taken, what is left alone), then Saxon on the original
and the rewritten expression over documents with every shape the guard is for: no match,
matches in document order, an empty or missing child, whitespace, and an element with two
children (where the original's own behaviour must come back). The corpus-wide comparison of
published and prepared stylesheets (``test_optimize.py``, slow) runs the EN 16931 rules too.
"""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.validation.saxon import SaxonRuntime
from gateway.validation.speedups.keyed_lookups import keyed_lookups
from gateway.validation.speedups.native import XSL

NS = 'xmlns:a="urn:a" xmlns:b="urn:b"'
LOOKUP = "//a:Cat[normalize-space(b:ID) = 'S']"


def _with_test(test: str) -> etree._Element:
    root = etree.fromstring(
        f'<xsl:stylesheet xmlns:xsl="{XSL}" {NS} version="3.0">'
        "<xsl:template match='/'><out><xsl:for-each select='*'>"
        "<xsl:choose><xsl:when test='true()'><x/></xsl:when></xsl:choose>"
        "</xsl:for-each></out></xsl:template></xsl:stylesheet>"
    )
    root.find(f".//{{{XSL}}}when").set("test", test)
    return root


def _test(root: etree._Element) -> str:
    return root.find(f".//{{{XSL}}}when").get("test")


@pytest.mark.parametrize(
    "test, taken",
    [
        (f"exists({LOOKUP})", 1),
        (f"count({LOOKUP}) + count(//a:Cat[normalize-space(b:ID)='Z'])", 2),
        (f"a:X and {LOOKUP}", 1),  # after an operator
        (f"{LOOKUP}[b:Scheme/normalize-space(b:ID) = 'VAT']/b:Percent", 1),
        (f"exists(a:Line{LOOKUP})", 0),  # a relative path
        (f"exists($v{LOOKUP})", 0),
        (f"{LOOKUP}[1]", 0),  # a positional predicate follows
        (f"{LOOKUP}[position() = 1]", 0),
        (f"'{LOOKUP}'", 0),  # inside a literal
        ("exists(//a:Cat[normalize-space(b:ID) = $code])", 0),
    ],
)
def test_what_is_taken(test: str, taken: int) -> None:
    root = _with_test(test)
    assert keyed_lookups(root) == taken
    keys = root.findall(f"{{{XSL}}}key")
    assert len(keys) == (2 if taken else 0)
    if taken:
        assert "key('gw-lk-0', 'S')" in _test(root)
        assert {k.get("match") for k in keys} == {"a:Cat", "a:Cat[count(b:ID) gt 1]"}


DOCS = {
    "none": "<a:R><a:Cat><b:ID>Z</b:ID></a:Cat></a:R>",
    "some": "<a:R><a:Cat><b:ID> S </b:ID><b:P>1</b:P></a:Cat><a:L><a:Cat><b:ID>S</b:ID>"
    "<b:P>2</b:P></a:Cat></a:L><a:Cat><b:ID>Z</b:ID></a:Cat><a:Cat><b:ID>S\n</b:ID>"
    "<b:P>3</b:P></a:Cat></a:R>",
    "empty and missing": "<a:R><a:Cat><b:ID/></a:Cat><a:Cat/><a:Cat><b:ID>S</b:ID></a:Cat></a:R>",
    "two children": "<a:R><a:Cat><b:ID>Z</b:ID></a:Cat><a:Cat><b:ID>S</b:ID><b:ID>S</b:ID>"
    "</a:Cat></a:R>",
    "two children after a match": "<a:R><a:Cat><b:ID>S</b:ID></a:Cat><a:Cat><b:ID>Z</b:ID>"
    "<b:ID>S</b:ID></a:Cat></a:R>",
}


@pytest.mark.parametrize(
    "test",
    [
        f"exists({LOOKUP})",
        f"string-join({LOOKUP}/b:P, ',')",
        f"count({LOOKUP}) = 2",
        "string-join(//a:Cat[normalize-space(b:ID) = '']/b:P, ',') = ''",
    ],
)
def test_saxon_gives_the_same_answer(test: str) -> None:
    _same_answers(test, DOCS)


def _same_answers(test: str, docs: dict[str, str]) -> None:
    """The original and the rewritten test give the same output (or the same error) on each
    document, where the test's value is printed."""
    runtime = SaxonRuntime.shared()
    original = _with_test(test)
    rewritten = _with_test(test)
    assert keyed_lookups(rewritten) >= 1
    sheets = [
        runtime.xslt.compile_stylesheet(stylesheet_text=etree.tostring(s, encoding="unicode"))
        for s in (_printing(original), _printing(rewritten))
    ]
    for name, body in docs.items():
        node = runtime.parse(body.replace("<a:R>", f"<a:R {NS}>", 1))
        a, b = (_outcome(s, node) for s in sheets)
        assert a == b, (name, a, b)


def _printing(root: etree._Element) -> etree._Element:
    """The test's value, not only its truth, in the output."""
    when = root.find(f".//{{{XSL}}}when")
    value = etree.SubElement(when, f"{{{XSL}}}value-of", select=when.get("test"))
    value.tail = None
    return root


def _outcome(executable: object, node: object) -> str:
    try:
        return str(executable.transform_to_string(xdm_node=node))  # type: ignore[attr-defined]
    except Exception as exc:  # saxonche raises its own PySaxonApiError
        return f"error: {str(exc).split(':')[0]}"


# The second shape: "is this VAT category used anywhere" (BR-AE-01 and its kin).
CHILD = "//a:Cat[a:Scheme/normalize-space(upper-case(b:ID))='VAT']/b:ID[normalize-space(.) = 'S']"
CHILD_Z = CHILD.replace("= 'S'", "= 'Z'")


@pytest.mark.parametrize(
    "test, taken",
    [
        (f"exists({CHILD})", 1),
        (f"exists({CHILD}) or not({CHILD_Z})", 2),
        (f"exists({CHILD}[1])", 0),  # a positional predicate follows
        (f"exists(a:Line{CHILD})", 0),  # a relative path
        (f"'{CHILD}'", 0),
        # another predicate than the scheme's upper-cased code is not known not to fail
        ("exists(//a:Cat[a:Scheme/xs:decimal(b:ID)=1]/b:ID[normalize-space(.) = 'S'])", 0),
    ],
)
def test_what_child_lookups_take(test: str, taken: int) -> None:
    root = _with_test(test)
    assert keyed_lookups(root) == taken
    keys = {k.get("name"): k.get("match") for k in root.findall(f"{{{XSL}}}key")}
    if taken:
        assert keys == {
            "gw-lk-0": "a:Cat",
            "gw-lk-0-many": "a:Cat[count(b:ID) gt 1]",
            "gw-lk-s-0": "a:Cat[a:Scheme[count(b:ID) gt 1]]",
        }
        assert "key('gw-lk-0', 'S')[a:Scheme/normalize-space(upper-case(b:ID))='VAT']" in _test(
            root
        )
    else:
        assert keys == {}


CHILD_DOCS = {
    **DOCS,
    "schemes": "<a:R><a:Cat><b:ID>S</b:ID><a:Scheme><b:ID>vat </b:ID></a:Scheme></a:Cat>"
    "<a:Cat><b:ID>S</b:ID><a:Scheme><b:ID>GST</b:ID></a:Scheme><a:Scheme><b:ID>VAT</b:ID>"
    "</a:Scheme></a:Cat><a:Cat><b:ID>Z</b:ID><a:Scheme><b:ID>VAT</b:ID></a:Scheme></a:Cat></a:R>",
    # upper-case() fails on a scheme with two codes: on a category the key would skip
    "a scheme with two codes elsewhere": "<a:R><a:Cat><b:ID>S</b:ID><a:Scheme><b:ID>VAT</b:ID>"
    "</a:Scheme></a:Cat><a:Cat><b:ID>Z</b:ID><a:Scheme><b:ID>VAT</b:ID><b:ID>X</b:ID>"
    "</a:Scheme></a:Cat></a:R>",
    "a scheme with two codes first": "<a:R><a:Cat><b:ID>Z</b:ID><a:Scheme><b:ID>VAT</b:ID>"
    "<b:ID>X</b:ID></a:Scheme></a:Cat><a:Cat><b:ID>S</b:ID><a:Scheme><b:ID>VAT</b:ID>"
    "</a:Scheme></a:Cat></a:R>",
    "two codes on a matching category": "<a:R><a:Cat><b:ID>Z</b:ID><b:ID> S</b:ID><a:Scheme>"
    "<b:ID>VAT</b:ID></a:Scheme></a:Cat></a:R>",
}


@pytest.mark.parametrize(
    "test",
    [
        f"exists({CHILD})",
        f"not({CHILD})",
        f"count({CHILD})",
        f"string-join({CHILD}/../b:P, ',')",
        f"string-join(for $i in {CHILD} return name($i/..), ',')",
    ],
)
def test_saxon_gives_the_same_answer_for_child_lookups(test: str) -> None:
    _same_answers(test, CHILD_DOCS)
