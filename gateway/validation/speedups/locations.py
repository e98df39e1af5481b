"""Schematron locations <-> lxml elements, in time linear in the number of findings.

Why: the report gives every finding the source line of its location, and the checks answered
on the lxml tree (:mod:`.native`, :mod:`.absent`) write the skeleton's location of each element
they flag. Both used to be quadratic: ``full_path`` counted an element's preceding same-name
siblings once per finding, and the line lookup ran one XPath per location, each of whose
positional steps (``*:Note[namespace-uri()='...'][1999]``) scans the siblings again. A
``base-example.xml`` with 2,000 empty notes spent 29 s in the first and 11 s in the second
(cProfile, issue 14). Here the positions of a parent's children are computed once, in one
pass over them, and reused by every finding below that parent.

The location form is the ISO skeleton's ``schematron-get-full-path``: per element
``/*:local[namespace-uri()='ns'][k]`` (``/name[k]`` without a namespace), per attribute
``/@name`` or ``/@*[local-name()='name' and namespace-uri()='ns']``; ``k`` counts preceding
siblings with the same namespace and local name, plus one.
"""

from __future__ import annotations

import re

from lxml import etree

_ELEMENT_STEP = re.compile(
    r"/(?:\*:(?P<local>[^\[/]+)\[namespace-uri\(\)='(?P<ns>[^']*)'\]|(?P<plain>[^\[/@*:]+))"
    r"\[(?P<pos>[1-9][0-9]*)\]"
)
_ATTRIBUTE_STEP = re.compile(r"/@(?:[\w.\-:]+|\*\[[^\]]*\])$")


class Positions:
    """Skeleton positions of elements among their same-name siblings, one pass per parent."""

    def __init__(self) -> None:
        # parent -> (child -> position) and parent -> (tag -> children in order); the parent
        # keys keep their lxml proxies alive, so the same element is the same key.
        self._of: dict[etree._Element, dict[etree._Element, int]] = {}
        self._by_tag: dict[etree._Element, dict[str, list[etree._Element]]] = {}

    def position(self, el: etree._Element) -> int:
        parent = el.getparent()
        if parent is None:
            return 1  # the document element has no element siblings
        if parent not in self._of:
            self._index(parent)
        return self._of[parent][el]

    def child(self, parent: etree._Element, tag: str, position: int) -> etree._Element | None:
        """The ``position``-th child of ``parent`` with Clark name ``tag`` (1-based)."""
        if parent not in self._by_tag:
            self._index(parent)
        same = self._by_tag[parent].get(tag, ())
        return same[position - 1] if position <= len(same) else None

    def _index(self, parent: etree._Element) -> None:
        of: dict[etree._Element, int] = {}
        by_tag: dict[str, list[etree._Element]] = {}
        for child in parent.iterchildren(etree.Element):
            same = by_tag.setdefault(child.tag, [])
            same.append(child)
            of[child] = len(same)
        self._of[parent] = of
        self._by_tag[parent] = by_tag


class FullPaths:
    """``schematron-get-full-path`` of many elements of one tree (create one per tree)."""

    def __init__(self) -> None:
        self._positions = Positions()
        self._paths: dict[etree._Element, str] = {}

    def __call__(self, el: etree._Element) -> str:
        path = self._paths.get(el)
        if path is None:
            parent = el.getparent()
            prefix = self(parent) if parent is not None else ""
            qname = etree.QName(el)
            step = (
                f"*:{qname.localname}[namespace-uri()='{qname.namespace}']"
                if qname.namespace
                else qname.localname
            )
            path = self._paths[el] = f"{prefix}/{step}[{self._positions.position(el)}]"
        return path


def full_path(el: etree._Element) -> str:
    """The skeleton's ``schematron-get-full-path`` location of one element."""
    return FullPaths()(el)


class Locator:
    """Source lines of skeleton locations in one tree; other location forms fall back to
    one XPath each (the form of the pinned stylesheets is the skeleton's)."""

    def __init__(self, tree: etree._ElementTree) -> None:
        self._tree = tree
        self._positions = Positions()
        self._lines: dict[str, int | None] = {}

    def line(self, location: str) -> int | None:
        if location not in self._lines:
            self._lines[location] = self._find(location)
        return self._lines[location]

    def _find(self, location: str) -> int | None:
        node: etree._Element | None = None
        pos = 0
        for m in _ELEMENT_STEP.finditer(location):
            if m.start() != pos:
                break
            tag = (f"{{{m['ns']}}}{m['local']}" if m["ns"] else m["local"]) or m["plain"]
            k = int(m["pos"])
            if node is None:
                root = self._tree.getroot()
                node = root if root.tag == tag and k == 1 else None
            else:
                node = self._positions.child(node, tag, k)
            pos = m.end()
            if node is None:
                return None
        if pos and (pos == len(location) or _ATTRIBUTE_STEP.fullmatch(location, pos)):
            return node.sourceline if node is not None else None
        return _xpath_line(self._tree, location)


_NS_STEP = re.compile(r"\*:([\w.\-]+)\[namespace-uri\(\)='([^']*)'\]")


def _xpath_line(tree: etree._ElementTree, location: str) -> int | None:
    if not location.startswith("/"):
        return None
    xpath = _NS_STEP.sub(r"*[local-name()='\1'][namespace-uri()='\2']", location)
    try:
        hits = tree.xpath(xpath)
    except etree.XPathError:
        return None
    node = hits[0] if isinstance(hits, list) and hits else None
    if node is not None and not isinstance(node, etree._Element):
        node = getattr(node, "getparent", lambda: None)()
    return node.sourceline if isinstance(node, etree._Element) else None
