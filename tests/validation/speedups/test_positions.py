"""The keyed sibling positions (:mod:`gateway.validation.speedups.positions`) give the
skeleton's location strings exactly, on crafted trees with many same-name siblings."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.validation.saxon import SaxonRuntime
from gateway.validation.speedups.locations import full_path
from gateway.validation.speedups.native import FULL_PATH_TEMPLATE
from gateway.validation.speedups.positions import FEW, keyed_positions

STYLESHEET = f"""<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/"><out><xsl:for-each select="//*">
    <p><xsl:apply-templates select="." mode="schematron-get-full-path"/></p>
  </xsl:for-each></out></xsl:template>
  {FULL_PATH_TEMPLATE}
</xsl:stylesheet>"""


def _tree(n: int) -> bytes:
    """A root with ``n`` children of mixed names (same local name in no, one and another
    namespace), comments and text between them, and a child with ``n`` children of its own."""
    root = etree.Element("root", nsmap={"x": "urn:x", "y": "urn:y"})
    names = ["a", "b", "{urn:x}a", "{urn:y}a", "{urn:x}b", "a"]
    for i in range(n):
        child = etree.SubElement(root, names[i % len(names)])
        child.tail = "text"
        if i % 7 == 3:
            root.append(etree.Comment("between"))
        if i == n // 2:
            for j in range(n):
                etree.SubElement(child, names[(j * 5) % len(names)]).text = str(j)
    return etree.tostring(root)


def _paths(executable: object, data: bytes) -> list[str]:
    runtime = SaxonRuntime.shared()
    out = executable.transform_to_string(xdm_node=runtime.parse(data.decode()))  # type: ignore[attr-defined]
    return [p.text for p in etree.fromstring(out.encode()).iter("p")]


@pytest.fixture(scope="module")
def stylesheets() -> tuple[object, object]:
    runtime = SaxonRuntime.shared()
    root = etree.fromstring(STYLESHEET.encode())
    assert keyed_positions(root) == 1
    assert keyed_positions(root) == 0, "rewritten once only"
    original = runtime.xslt.compile_stylesheet(stylesheet_text=STYLESHEET)
    keyed = runtime.xslt.compile_stylesheet(
        stylesheet_text=etree.tostring(root, encoding="unicode")
    )
    assert original is not None and keyed is not None, runtime.xslt.error_message
    return original, keyed


@pytest.mark.parametrize("n", [1, FEW - 1, FEW, FEW + 1, 2 * FEW + 5, 301])
def test_keyed_positions_give_the_skeleton_locations(stylesheets, n: int) -> None:  # type: ignore[no-untyped-def]
    original, keyed = stylesheets
    data = _tree(n)
    expected = [full_path(el) for el in etree.fromstring(data).iter(etree.Element)]
    assert _paths(original, data) == expected
    assert _paths(keyed, data) == expected


def test_other_location_templates_are_left_alone() -> None:
    changed = STYLESHEET.replace("namespace-uri() = namespace-uri(current())", "true()")
    assert keyed_positions(etree.fromstring(changed.encode())) == 0


def test_the_lookup_answers_without_its_fallback() -> None:
    """With the fallback count made wrong, the locations are still right: the key found them."""
    runtime = SaxonRuntime.shared()
    root = etree.fromstring(STYLESHEET.encode())
    keyed_positions(root)
    text = etree.tostring(root, encoding="unicode")
    assert text.count("then $i - 1 else count(") == 1
    broken = text.replace("then $i - 1 else count(", "then $i - 1 else -1000 + count(")
    executable = runtime.xslt.compile_stylesheet(stylesheet_text=broken)
    assert executable is not None, runtime.xslt.error_message
    data = _tree(301)
    assert _paths(executable, data) == [
        full_path(el) for el in etree.fromstring(data).iter(etree.Element)
    ]


def test_only_elements_with_many_preceding_siblings_consult_the_key() -> None:
    """With the lookup's answer made wrong, exactly the elements with FEW or more preceding
    element siblings (or such an ancestor) get a wrong location: a finding on a header element
    of a 10,000-line invoice counts its few siblings instead of building the key over every
    element of the document (0.7 s of the EN 16931 layer's 1.5 s there)."""
    runtime = SaxonRuntime.shared()
    root = etree.fromstring(STYLESHEET.encode())
    keyed_positions(root)
    text = etree.tostring(root, encoding="unicode")
    broken = text.replace("then $i - 1 else count(", "then -1000 else -1000 + count(")
    executable = runtime.xslt.compile_stylesheet(stylesheet_text=broken)
    assert executable is not None, runtime.xslt.error_message
    data = _tree(3 * FEW)
    elements = list(etree.fromstring(data).iter(etree.Element))
    paths = _paths(executable, data)

    def few(el: etree._Element) -> bool:
        return (
            all(
                len(list(a.itersiblings(etree.Element, preceding=True))) < FEW
                for a in el.iterancestors()
            )
            and len(list(el.itersiblings(etree.Element, preceding=True))) < FEW
        )

    right = [path == full_path(el) for el, path in zip(elements, paths, strict=True)]
    assert right == [few(el) for el in elements]
    assert right.count(True) > FEW and right.count(False) > FEW


@pytest.mark.parametrize(
    "rel",
    ["en16931-1.3.16/EN16931-UBL-validation.xslt", "xrechnung-3.0.2/XRechnung-CII-validation.xslt"],
)
def test_the_read_analysis_sees_through_the_rewrite(installed_data_dir, rel, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The functions read names only: what the rules can read (for stand-ins) is unchanged."""
    from gateway.validation.speedups import optimize
    from gateway.validation.speedups.positions import NS
    from gateway.validation.speedups.reads import POSITIONS, stylesheet_reads

    assert POSITIONS == NS
    path = installed_data_dir / "artefacts" / rel
    keyed = optimize.prepared_stylesheet(path).text
    monkeypatch.setattr(optimize, "keyed_positions", lambda root: 0)
    plain = optimize.prepared_stylesheet(path).text
    assert "gw-pos:before(.)" in keyed and "gw-pos:before(.)" not in plain
    with_rewrite = stylesheet_reads(etree.fromstring(keyed.encode()))
    assert not with_rewrite.unknown and not with_rewrite.broad
    assert with_rewrite == stylesheet_reads(etree.fromstring(plain.encode()))
