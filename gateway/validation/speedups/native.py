"""Empty-element patterns, evaluated with lxml instead of inside Saxon.

Why: Peppol and XRechnung stylesheets carry a pattern that flags every empty element
(PEPPOL-EN16931-R008, PEPPOL-COMMON-R001, the XRechnung CII variant that exempts
``ram:ApplicableHeaderTradeDelivery``)::

    <xsl:template match="//*[not(*) and not(normalize-space())]" mode="M36" priority="1000">
      ... failed-assert test="false()" id=... flag=... location=full path ... <svrl:text>...

Saxon evaluates that predicate on every element of the document, building each leaf's
string value: on the KoSIT test suite it is 40% of the XRechnung UBL layer and 55% of the
XRechnung CII layer (about 0.5 and 0.9 ms per document), and 1.6 ms on a document with a
300 KB attachment. lxml answers the same question in about 0.04 ms.

How, exactly: :func:`extract` recognises such a pattern only in a strict shape (checked
element by element, see :func:`_rule`) and replaces the root template's
``<xsl:apply-templates select="/" mode="M.."/>`` with a marker element. When the SVRL is
read, the marker is replaced by the findings :meth:`EmptyElementPattern.findings` computes
on the same document (the lxml tree the engine already parsed), in the same place and order:

- the mode visits every element once, in document order (the rule and the default template
  both recurse into child elements; nothing else is in the mode), and the rule fires where
  its predicate holds, always failing (``test="false()"``);
- the predicate is a conjunction of ``not(*)``, ``not(normalize-space())`` and optionally
  ``not(name() = '...')`` / ``not(local-name() = '...')``: functions that mean the same in
  XPath 1.0 (libxml2) as in XPath 3.1 (Saxon) on an element node. A cheap Python prefilter
  (no element child, blank text) only skips elements where one of the first two conjuncts is
  false; every remaining candidate is confirmed by libxml2 evaluating the original predicate;
- the location is the skeleton's ``schematron-get-full-path`` form, computed the same way
  (:func:`.locations.full_path`); a stylesheet whose full-path templates differ is left alone;
- id, flag and message are the literal texts of the assert.

Anything outside that shape stays in Saxon. ``tests/validation/speedups/test_optimize.py`` compares
the findings of the published and the rewritten stylesheets over the whole corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from gateway.validation.speedups.locations import FullPaths

XSL = "http://www.w3.org/1999/XSL/Transform"
SVRL = "http://purl.oclc.org/dsdl/svrl"
MARKER = "{urn:einvoice-gateway:native-pattern}pattern"

# The skeleton's element location template, whitespace-normalised (ISO Schematron skeleton).
FULL_PATH_TEMPLATE = (
    '<xsl:template match="*" mode="schematron-get-full-path">'
    '<xsl:apply-templates mode="schematron-get-full-path" select="parent::*"/>'
    "<xsl:text>/</xsl:text><xsl:choose><xsl:when test=\"namespace-uri()=''\">"
    '<xsl:value-of select="name()"/></xsl:when><xsl:otherwise><xsl:text>*:</xsl:text>'
    '<xsl:value-of select="local-name()"/><xsl:text>[namespace-uri()=\'</xsl:text>'
    '<xsl:value-of select="namespace-uri()"/><xsl:text>\']</xsl:text></xsl:otherwise>'
    '</xsl:choose><xsl:variable name="preceding" select="count(preceding-sibling::*'
    '[local-name()=local-name(current()) and namespace-uri() = namespace-uri(current())])"/>'
    '<xsl:text>[</xsl:text><xsl:value-of select="1+ $preceding"/><xsl:text>]</xsl:text>'
    "</xsl:template>"
)
SELECT_FULL_PATH_TEMPLATE = (
    '<xsl:template match="*" mode="schematron-select-full-path">'
    '<xsl:apply-templates mode="schematron-get-full-path" select="."/></xsl:template>'
)

Finding = tuple[str, str, str, str, str]  # rule, flag, location, message, test


class NativeCheck(Protocol):
    """Part of a stylesheet answered on the lxml tree. ``findings(tree)`` lists the findings
    for each occurrence of its marker in the SVRL (a rule may fire several times); the k-th
    marker is replaced by the k-th list.

    The engine's tree may hold stand-ins for large text leaves (:mod:`.standin`): a check may
    rely on names, attributes, structure, positions and emptiness, not on such a leaf's text."""

    def findings(self, tree: etree._ElementTree) -> list[list[Finding]]: ...


_REQUIRED = ("not(*)", "not(normalize-space())")
_OPTIONAL = re.compile(r"not\((?:local-)?name\(\)\s*=\s*'[^']*'\)")
_RECURSE = {"*", "@*|*", "@*|node()"}


@dataclass(frozen=True)
class EmptyElementPattern:
    """One empty-element pattern taken out of a stylesheet, evaluated on the lxml tree."""

    predicate: str
    rule: str
    flag: str
    message: str
    test: str

    def findings(self, tree: etree._ElementTree) -> list[list[Finding]]:
        """(rule, flag, location, message, test) for every element the rule fires on (the
        marker is output once per document, so there is one list)."""
        confirm = _compiled(self.predicate)
        paths = FullPaths()
        out = []
        for el in tree.iter(etree.Element):
            if len(el):
                # children of some kind: only comments or PIs can leave it a candidate
                if next(el.iterchildren(etree.Element), None) is not None:
                    continue
            elif el.text and el.text.strip(" \t\r\n"):
                continue
            if confirm(el):
                out.append((self.rule, self.flag, paths(el), self.message, self.test))
        return [out]


_XPATHS: dict[str, etree.XPath] = {}


def _compiled(predicate: str) -> etree.XPath:
    if predicate not in _XPATHS:
        _XPATHS[predicate] = etree.XPath(f"boolean(self::*[{predicate}])")
    return _XPATHS[predicate]


# -- recognising the pattern in a stylesheet -----------------------------------------------------
def extract(root: etree._Element, start: int = 0) -> list[EmptyElementPattern]:
    """Take every empty-element pattern out of the stylesheet (in place); return them in the
    order of their markers (the marker's ``n`` attribute, minus ``start``, indexes the list)."""
    if not full_path_is_canonical(root):
        return []
    templates: dict[str, list[etree._Element]] = {}
    for t in root.iter(f"{{{XSL}}}template"):
        if t.get("mode"):
            templates.setdefault(t.get("mode"), []).append(t)
    found: list[EmptyElementPattern] = []
    for call in list(root.iter(f"{{{XSL}}}apply-templates")):
        mode = call.get("mode")
        if call.get("select") != "/" or not mode or not in_root_template(call):
            continue
        if calls_into(root, mode) != 1:
            continue
        pattern = _pattern(mode, templates.get(mode, []))
        if pattern is None:
            continue
        marker = etree.Element(MARKER, n=str(start + len(found)))
        marker.tail = call.tail
        call.getparent().replace(call, marker)
        found.append(pattern)
    return found


def in_root_template(el: etree._Element) -> bool:
    parent = el.getparent()
    while parent is not None and parent.tag != f"{{{XSL}}}template":
        parent = parent.getparent()
    return parent is not None and parent.get("match") == "/" and not parent.get("mode")


def calls_into(root: etree._Element, mode: str) -> int:
    """How many apply-templates enter ``mode`` from outside its own templates."""
    n = 0
    for call in root.iter(f"{{{XSL}}}apply-templates"):
        if call.get("mode") != mode:
            continue
        owner = call.getparent()
        while owner is not None and owner.tag != f"{{{XSL}}}template":
            owner = owner.getparent()
        if owner is None or owner.get("mode") != mode:
            n += 1
    return n


def _pattern(mode: str, templates: list[etree._Element]) -> EmptyElementPattern | None:
    rules = [t for t in templates if t.get("match") not in ("text()", "@*|node()")]
    defaults = [t for t in templates if t.get("match") in ("text()", "@*|node()")]
    if len(rules) != 1 or len(defaults) != 2:
        return None
    for t in defaults:
        kids = children(t)
        if t.get("match") == "text()" and kids:
            return None
        if t.get("match") == "@*|node()" and not (len(kids) == 1 and recurses(kids[0], mode)):
            return None
    return _rule(rules[0], mode)


def _rule(template: etree._Element, mode: str) -> EmptyElementPattern | None:
    predicate = _predicate(template.get("match") or "")
    kids = children(template)
    if predicate is None or len(kids) != 2 or not recurses(kids[1], mode):
        return None
    choose = kids[0]
    branches = children(choose) if choose.tag == f"{{{XSL}}}choose" else []
    if len(branches) != 2 or branches[0].tag != f"{{{XSL}}}when":
        return None
    when, otherwise = branches
    if when.get("test", "").strip() != "false()" or children(when) or (when.text or "").strip():
        return None
    asserts = children(otherwise) if otherwise.tag == f"{{{XSL}}}otherwise" else []
    if len(asserts) != 1 or asserts[0].tag != f"{{{SVRL}}}failed-assert":
        return None
    parts = literal_assert(asserts[0])
    if parts is None or parts["test"].strip() != "false()":
        return None
    return EmptyElementPattern(
        predicate=predicate,
        rule=parts["id"],
        flag=parts["flag"],
        message=parts["text"],
        test="false()",
    )


def literal_assert(fa: etree._Element) -> dict[str, str] | None:
    """id, flag, message (whitespace-normalised) and test of an ``svrl:failed-assert`` whose
    parts are all literal and whose location is the skeleton's full path of the context."""
    if fa.tag != f"{{{SVRL}}}failed-assert" or set(fa.attrib) != {"test"}:
        return None
    if "{" in fa.get("test", "") or "}" in fa.get("test", ""):
        return None  # an attribute value template: the output is not the literal text
    parts: dict[str, str] = {"test": fa.get("test", "")}
    for part in children(fa):
        if part.tag == f"{{{XSL}}}attribute" and part.get("name") in ("id", "flag"):
            if children(part):
                return None
            parts[part.get("name")] = part.text or ""
        elif part.tag == f"{{{XSL}}}attribute" and part.get("name") == "location":
            loc = children(part)
            if not (
                len(loc) == 1
                and loc[0].tag == f"{{{XSL}}}apply-templates"
                and loc[0].get("mode") == "schematron-select-full-path"
                and loc[0].get("select") == "."
            ):
                return None
            parts["location"] = ""
        elif part.tag == f"{{{SVRL}}}text" and not children(part):
            parts["text"] = " ".join((part.text or "").split())
        else:
            return None
    if set(parts) != {"id", "flag", "location", "text", "test"}:
        return None
    return parts


def _predicate(match: str) -> str | None:
    """The predicate of ``//*[P]`` or ``*[P]`` if P is a conjunction in the allowed grammar.

    ``//*`` and ``*`` match the same elements here: the mode only visits elements of the
    source document, which is rooted at a document node.
    """
    m = re.fullmatch(r"\s*(?://)?\*\[(.*)\]\s*", match, re.S)
    if m is None:
        return None
    atoms = [" ".join(a.split()) for a in re.split(r"\s+and\s+", m.group(1))]
    atoms = [a.replace("( ", "(").replace(" )", ")") for a in atoms]
    if not all(a in _REQUIRED or _OPTIONAL.fullmatch(a) for a in atoms):
        return None
    if not all(r in atoms for r in _REQUIRED):
        return None
    return " and ".join(atoms)


def recurses(el: etree._Element, mode: str) -> bool:
    return (
        el.tag == f"{{{XSL}}}apply-templates"
        and el.get("mode") == mode
        and (el.get("select") or "").replace(" ", "") in _RECURSE
        and not children(el)
    )


def children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _normalised(el: etree._Element) -> str:
    text = etree.tostring(el, encoding="unicode", with_tail=False)
    text = re.sub(r'\s+xmlns(?::[\w.\-]+)?="[^"]*"', "", text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return re.sub(r"\s+", " ", text).replace("> <", "><").strip()


def full_path_is_canonical(root: etree._Element) -> bool:
    """The stylesheet's location templates are the skeleton's, so :func:`full_path` agrees."""
    select = [
        t for t in root.iter(f"{{{XSL}}}template") if t.get("mode") == "schematron-select-full-path"
    ]
    get = [
        t for t in root.iter(f"{{{XSL}}}template") if t.get("mode") == "schematron-get-full-path"
    ]
    return (
        [_normalised(t) for t in select] == [SELECT_FULL_PATH_TEMPLATE]
        and sorted(t.get("match") for t in get) == ["*", "@*"]
        and FULL_PATH_TEMPLATE in [_normalised(t) for t in get]
    )
