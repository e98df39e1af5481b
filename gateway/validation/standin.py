"""The document as Saxon reads it: large text nodes no rule can read are replaced by a stand-in.

Why: an embedded attachment (``cbc:EmbeddedDocumentBinaryObject`` in UBL,
``ram:AttachmentBinaryObject`` in CII) is typically a 200-400 KB base64 PDF. Saxon's parser
spends ~10 ns per character on it - 4-6 ms for such a document, more than both rule layers
together - although no rule of the published stylesheets looks at the content (they test the
element's existence and its ``mimeCode`` and ``filename`` attributes). When
:mod:`.reads` proves that no expression of any of the scenario's stylesheets can read the text
of a leaf, Saxon gets the document with that text replaced by four characters.

What stays exact: the lxml tree (XSD validation, the empty-element pattern of :mod:`.native`,
source lines) keeps the real content, and the stand-in changes no element, attribute, name,
position or emptiness - only a string value no rule reads. Locations in findings are paths,
not offsets, so they are unchanged too.
"""

from __future__ import annotations

from lxml import etree

from gateway.validation.reads import Reads

MIN_CHARS = 4096  # below this, Saxon parses a text node faster than we could look for it
STAND_IN = "AAAA"  # non-blank, and valid base64 in case anything ever decodes it


def saxon_text(data: bytes, tree: etree._ElementTree, reads: Reads | None) -> str:
    """The text Saxon parses for ``data`` (already parsed as ``tree``).

    ``reads`` is what the scenario's stylesheets can read; None turns stand-ins off.
    """
    leaves = _large_leaves(tree) if reads is not None and len(data) > MIN_CHARS else []
    blind = [leaf for leaf in leaves if reads is not None and reads.blind_to(leaf)]
    if not blind:
        return _as_text(data, tree)
    saved = [leaf.text for leaf in blind]
    try:
        for leaf in blind:
            leaf.text = STAND_IN
        return etree.tostring(tree, encoding="unicode")
    finally:
        for leaf, text in zip(blind, saved, strict=True):
            leaf.text = text


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
