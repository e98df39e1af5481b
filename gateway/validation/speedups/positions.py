"""Skeleton locations in logarithmic time: an element's position among its same-name siblings
looked up in a key instead of counted.

Why: every finding's ``location`` is the ISO skeleton's ``schematron-get-full-path``, which
for each ancestor-or-self element counts its preceding siblings of the same name::

    <xsl:variable name="preceding" select="count(preceding-sibling::*[local-name()=local-name(
        current()) and namespace-uri() = namespace-uri(current())])"/>

On an invoice with N lines, a finding on the k-th line walks k siblings, so N line-level
findings cost O(N^2): 1,000 bad unit codes spent ~2 ms per finding in the EN 16931 layer,
10,000 would take minutes (issue 18 target 6; the deadline is what bounds it today).

How, exactly: that one ``select`` becomes a call of a function that returns the same number.

- An element with fewer than 64 preceding element siblings keeps the original count (at most
  63 steps, and ``preceding-sibling::*[64]`` stops at the 64th), as does an element whose tree
  is not rooted at a document node (``key()`` needs one; rules only report on the source
  document, so this is only a guard). Why the element's own siblings and not its parent's
  child count (until 2026-12-03: at most 8 children): building the key visits every element
  of the document, and a header finding of a long invoice (BR-CO-10 on
  ``cac:LegalMonetaryTotal``, whose parent has the 10,000 lines as children) paid that build
  alone: 0.7 s of the EN 16931 layer's 1.5 s on a 10,000-line invoice, for one location
  whose count is 20 steps. Now only a finding on the 64th same-parent element or later
  builds it, which is when N findings could cost N^2 steps.
- Otherwise: the key ``same`` indexes every element by the string ``generate-id(..) ' '
  namespace-uri() ' ' local-name()``. The generated id has no space and a local name has
  none, so the string names exactly one (parent, namespace, local name) triple, and the key
  returns that parent's children of that expanded name - in document order, as ``key()``
  always does. The element is in that sequence, and its 1-based index there is one plus the
  number of same-name preceding siblings: the original count plus one. The index is found by
  binary search on document order (``<<``), ``log2(N)`` steps; if it were ever not found, the
  original count is evaluated instead.

So the location strings are the skeleton's, character for character;
``tests/validation/speedups/test_optimize.py`` compares the findings, locations included, of
the published and the rewritten stylesheets over the corpus, and ``test_positions.py`` checks
crafted trees (many same-name siblings, mixed names, namespaces) against the original template.
"""

from __future__ import annotations

from lxml import etree

XSL = "http://www.w3.org/1999/XSL/Transform"
NS = "urn:einvoice-gateway:positions"
XS = "http://www.w3.org/2001/XMLSchema"
ORIGINAL = (
    "count(preceding-sibling::*[local-name()=local-name(current()) and namespace-uri() = "
    "namespace-uri(current())])"
)
#: An element with fewer preceding siblings than this keeps the original count.
FEW = 64

_GROUP = "concat(generate-id({e}..), ' ', namespace-uri({e_}), ' ', local-name({e_}))"
_COUNT = (
    "count($e/preceding-sibling::*[local-name()=local-name($e) and "
    "namespace-uri() = namespace-uri($e)])"
)


#: A prefix, not EQNames: :mod:`.reads` knows a stylesheet's functions by ``prefix:name``.
PREFIX = "gw-pos"
_NSMAP = {PREFIX: NS, "xs": XS}


def _xsl(tag: str, **attrs: str) -> etree._Element:
    return etree.Element(
        f"{{{XSL}}}{tag}", {k.replace("_", "-"): v for k, v in attrs.items()}, nsmap=_NSMAP
    )


def _declarations() -> list[etree._Element]:
    key = _xsl("key", name=f"{PREFIX}:same", match="*", use=_GROUP.format(e="", e_=""))
    preceding = _xsl("function", name=f"{PREFIX}:before", **{"as": "xs:integer"})
    preceding.append(_xsl("param", name="e", **{"as": "element()"}))
    group = _GROUP.format(e="$e/", e_="$e")
    preceding.append(
        _xsl(
            "sequence",
            select=(
                f"if (empty($e/preceding-sibling::*[{FEW}]) or not(root($e) instance of "
                f"document-node())) then {_COUNT} else "
                f"(let $i := {PREFIX}:index(key('{PREFIX}:same', {group}, root($e)), $e) "
                f"return if ($i gt 0) then $i - 1 else {_COUNT})"
            ),
        )
    )
    index = _xsl("function", name=f"{PREFIX}:index", **{"as": "xs:integer"})
    index.append(_xsl("param", name="g", **{"as": "element()*"}))
    index.append(_xsl("param", name="e", **{"as": "element()"}))
    index.append(_xsl("sequence", select=f"{PREFIX}:search($g, $e, 1, count($g))"))
    search = _xsl("function", name=f"{PREFIX}:search", **{"as": "xs:integer"})
    for name, kind in (
        ("g", "element()*"),
        ("e", "element()"),
        ("lo", "xs:integer"),
        ("hi", "xs:integer"),
    ):
        search.append(_xsl("param", name=name, **{"as": kind}))
    search.append(
        _xsl(
            "sequence",
            select=(
                "if ($lo gt $hi) then 0 else "
                "(let $mid := ($lo + $hi) idiv 2, $m := $g[$mid] return "
                "if ($m is $e) then $mid "
                f"else if ($m << $e) then {PREFIX}:search($g, $e, $mid + 1, $hi) "
                f"else {PREFIX}:search($g, $e, $lo, $mid - 1))"
            ),
        )
    )
    return [key, preceding, index, search]


def keyed_positions(root: etree._Element) -> int:
    """Rewrite the skeleton's same-name sibling count (in place); 1 if done, else 0.

    Only the exact ``preceding`` variable of the element template of mode
    ``schematron-get-full-path`` is touched, and only once per stylesheet."""
    targets = [
        var
        for template in root.iterchildren(f"{{{XSL}}}template")
        if template.get("mode") == "schematron-get-full-path" and template.get("match") == "*"
        for var in template.iter(f"{{{XSL}}}variable")
        if var.get("name") == "preceding" and " ".join(var.get("select", "").split()) == ORIGINAL
    ]
    if len(targets) != 1:
        return 0
    old = targets[0]  # replaced, not edited: the new one declares the prefix it uses
    new = _xsl("variable", name="preceding", select=f"{PREFIX}:before(.)")
    new.tail = old.tail
    old.getparent().replace(old, new)
    for el in _declarations():
        el.tail = "\n"
        root.append(el)
    return 1
