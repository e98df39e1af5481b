"""Large texts no check can tell apart are replaced by a stand-in, for Saxon and for libxml2.

Why: an embedded attachment (``cbc:EmbeddedDocumentBinaryObject`` in UBL,
``ram:AttachmentBinaryObject`` in CII) is typically a 200-400 KB base64 PDF. Saxon's parser
spends ~10 ns per character on it - 4-6 ms for such a document, more than both rule layers
together - although no rule of the published stylesheets looks at the content (they test the
element's existence and its ``mimeCode`` and ``filename`` attributes). libxml2's XSD validation
of such a value costs another ~2 ms. So:

- when :mod:`.reads` proves that no expression of any of the scenario's stylesheets can read the
  text of a leaf, Saxon gets the document with that text replaced by four characters;
- when the leaf's declared type is plain ``xs:base64Binary`` (no facets, no fixed value, see
  :mod:`.base64_values`), every valid value validates alike, so the schema layer checks the real
  text's lexical form itself (exactly as XML Schema defines it) and lets libxml2 validate the
  stand-in.

What stays exact: the stand-in changes no element, attribute, name, position or emptiness - only
a string value no rule reads and no schema constraint distinguishes. Locations in findings are
paths, not offsets, and source lines live on the nodes, so they are unchanged too. A layer that
must see the real text (``xmlschema`` when the fast schema check fails, Saxon when a rule may
read the leaf) gets it back first (:meth:`LargeLeaves.restore`).
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from gateway.validation.speedups.reads import Reads

MIN_CHARS = 4096  # below this, the parsers read a text node faster than we could look for it
STAND_IN = "AAAA"  # non-blank, and valid base64 in case anything ever decodes it


class LargeLeaves:
    """One document's large text leaves, and which of them hold the stand-in right now.

    Why an object per validation: the schema layer and Saxon both want these texts out of the
    way. Finding them costs a walk of the tree and putting a real text back costs a copy of it,
    so the leaves are found once and a text is restored only where a layer must see it. The
    engine's tree is its own and is dropped after the report, so it is never restored at the end.
    """

    def __init__(self, tree: etree._ElementTree, size: int) -> None:
        """``size``: the document's length in bytes (a leaf needs at least MIN_CHARS of it);
        0 turns stand-ins off."""
        self.leaves = _large_leaves(tree) if size > MIN_CHARS else []
        self._saved: dict[etree._Element, str] = {}

    @property
    def standing(self) -> list[etree._Element]:
        return list(self._saved)

    def stand_in(self, leaves: Iterable[etree._Element]) -> None:
        for leaf in leaves:
            if leaf not in self._saved:
                self._saved[leaf] = leaf.text
                leaf.text = STAND_IN

    def restore(self, leaves: Iterable[etree._Element] | None = None) -> None:
        for leaf in list(self._saved) if leaves is None else leaves:
            text = self._saved.pop(leaf, None)
            if text is not None:
                leaf.text = text


def saxon_text(
    data: bytes,
    tree: etree._ElementTree,
    reads: Reads | None,
    leaves: LargeLeaves | None = None,
) -> str:
    """The text Saxon parses for ``data`` (already parsed as ``tree``).

    ``reads`` is what the scenario's stylesheets can read; None turns stand-ins off. With
    ``leaves`` (the engine's), stand-ins are left in the tree for the caller; without, the tree
    is left as it was.
    """
    own = leaves is None
    if leaves is None:
        leaves = LargeLeaves(tree, len(data) if reads is not None else 0)
    blind = [leaf for leaf in leaves.leaves if reads is not None and reads.blind_to(leaf)]
    leaves.restore([leaf for leaf in leaves.standing if leaf not in blind])
    leaves.stand_in(blind)
    if not leaves.standing:
        return _as_text(data, tree)
    try:
        return etree.tostring(tree, encoding="unicode")
    finally:
        if own:
            leaves.restore()


def _large_leaves(tree: etree._ElementTree) -> list[etree._Element]:
    """Elements whose only child is one non-blank text node of at least MIN_CHARS characters
    (an element with comments or PIs inside is left alone)."""
    out = []
    for el in tree.getroot().iter(etree.Element):
        text = el.text
        if text is not None and len(text) >= MIN_CHARS and len(el) == 0 and text.strip():
            out.append(el)
    return out


def _as_text(data: bytes, tree: etree._ElementTree) -> str:
    """The document as text; re-serialised only when it is not UTF-8 encoded."""
    encoding = (tree.docinfo.encoding or "UTF-8").upper().replace("_", "-")
    if encoding in ("UTF-8", "UTF8"):
        return data.decode("utf-8-sig")
    return etree.tostring(tree, encoding="unicode")
