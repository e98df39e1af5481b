"""Long literal ``test`` attributes of SVRL results, written by Saxon as a short marker.

Why: every ``svrl:failed-assert`` carries the text of its assert's ``test`` as a literal
attribute, and some are long: EN 16931's unit-code rule BR-CL-23 spells out its whole code
list, 9 KB. Saxon serialises that text for every finding, and Python parses it back: 1,000
invoice lines with an unknown unit code made a 9 MB SVRL and cost 8.7 s in the EN 16931 layer
instead of 2.4 s (issue 14: "2000 bad unit codes take 3.1 s"; linear, but ~6 ms a finding).

How, exactly: the attribute is a literal (an attribute value template without ``{`` or ``}``
is its own text), so its value in the SVRL is always that text. :func:`shorten` replaces each
such value longer than :data:`LONG` characters by ``MARKER + n`` and returns the texts;
:func:`restore` maps a marker read from the SVRL back to text ``n``. No stylesheet's original
``test`` starts with the marker (checked; otherwise nothing is rewritten), so every other value
passes through unchanged. The finding's ``test`` in the report is the same string as before.
"""

from __future__ import annotations

from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
MARKER = "urn:einvoice-gateway:test:"
#: Shorter texts cost less to serialise than the bookkeeping saves.
LONG = 200


def shorten(root: etree._Element) -> tuple[str, ...]:
    """Replace long literal ``test`` attributes of SVRL result elements (in place)."""
    results = list(root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"))
    if any((el.get("test") or "").startswith(MARKER) for el in results):
        return ()
    texts: list[str] = []
    for el in results:
        test = el.get("test")
        if test is None or len(test) <= LONG or "{" in test or "}" in test:
            continue
        el.set("test", f"{MARKER}{len(texts)}")
        texts.append(test)
    return tuple(texts)


def restore(value: str | None, texts: tuple[str, ...]) -> str | None:
    """The original text of a ``test`` value read from the SVRL."""
    if value is not None and texts and value.startswith(MARKER):
        return texts[int(value[len(MARKER) :])]
    return value
