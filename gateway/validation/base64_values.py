"""The ``xs:base64Binary`` check libxml2 leaves out.

Why: libxml2 skips characters outside the base64 alphabet when it validates an
``xs:base64Binary`` value (it only counts the valid ones), so ``<cbc:EmbeddedDocumentBinaryObject
mimeCode="application/pdf" filename="a.pdf">!*!*</cbc:EmbeddedDocumentBinaryObject>`` passes the
UBL schema in libxml2 but not in Xerces (the KoSIT validator) or ``xmlschema``. The schema layer
therefore also looks at the text of every element whose declared type derives from
``xs:base64Binary``; a stray character sends the document to ``xmlschema``, whose verdict and
message are reported (see :class:`gateway.validation.layers.SchemaLayer`).

Which elements: found by reading the schema documents (the main XSD and everything it imports
or includes) with lxml - a named or anonymous type whose ``base`` chain reaches
``xs:base64Binary``. Loading the schema in ``xmlschema`` would give the same answer but takes
three seconds per schema; ``tests/validation/test_base64_values.py`` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
BASE64 = f"{{{XS}}}base64Binary"
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n"


def base64_elements(xsd: Path) -> frozenset[str]:
    """Clark names of the elements declared with a type derived from ``xs:base64Binary``."""
    bases: dict[str, str | None] = {}
    elements: dict[str, set[str | None]] = {}
    _read(xsd.resolve(), bases, elements, set())
    return frozenset(
        name for name, types in elements.items() if any(_derives(t, bases) for t in types)
    )


def bad_base64(tree: etree._ElementTree, names: frozenset[str]) -> bool:
    """True if one of the named elements holds a character outside the base64 alphabet."""
    if not names:
        return False
    for el in tree.getroot().iter(*names):
        text = el.text or ""
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            return True
        if raw.translate(None, _ALPHABET):
            return True
    return False


def _derives(type_name: str | None, bases: dict[str, str | None]) -> bool:
    for _ in range(50):  # derivation chains are short; a cycle is a broken schema
        if type_name is None:
            return False
        if type_name == BASE64:
            return True
        type_name = bases.get(type_name)
    return False


def _read(
    path: Path,
    bases: dict[str, str | None],
    elements: dict[str, set[str | None]],
    seen: set[Path],
) -> None:
    if path in seen or not path.is_file():
        return
    seen.add(path)
    facts = _facts(path)
    for ref in facts.refs:
        _read(ref, bases, elements, seen)
    bases.update(facts.bases)
    for name, type_name in facts.elements:
        elements.setdefault(name, set()).add(type_name)


@dataclass(frozen=True)
class _Facts:
    refs: tuple[Path, ...]  # imported / included schema documents
    bases: dict[str, str | None]  # named type -> its base type
    elements: tuple[tuple[str, str | None], ...]  # element declaration -> its type


@lru_cache(maxsize=256)
def _facts(path: Path) -> _Facts:
    """What one schema document declares; cached, because the UBL schemas share their common
    documents (CBC, UDT, xmldsig ...) and would otherwise each parse them again."""
    root = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
    schema = root.getroot()
    tns = schema.get("targetNamespace", "")
    qualified = schema.get("elementFormDefault") == "qualified"
    refs = tuple(
        (path.parent / location).resolve()
        for ref in schema.iterchildren(f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine")
        if (location := ref.get("schemaLocation")) and "://" not in location
    )
    bases = {
        f"{{{tns}}}{t.get('name')}": _base_of(t)
        for kind in ("complexType", "simpleType")
        for t in schema.iterchildren(f"{{{XS}}}{kind}")
    }
    elements = []
    for el in schema.iter(f"{{{XS}}}element"):
        name = el.get("name")
        if name is None:
            continue  # a reference to a global declaration, read where it is declared
        is_global = el.getparent() is schema
        form = el.get("form", "qualified" if qualified else "unqualified")
        namespace = tns if is_global or form == "qualified" else ""
        if el.get("type"):
            type_name: str | None = _qname(el, el.get("type", ""))
        else:
            anonymous = el.find(f"{{{XS}}}complexType")
            if anonymous is None:
                anonymous = el.find(f"{{{XS}}}simpleType")
            type_name = _base_of(anonymous) if anonymous is not None else None
        elements.append((f"{{{namespace}}}{name}", type_name))
    return _Facts(refs, bases, tuple(elements))


def _base_of(type_el: etree._Element) -> str | None:
    """The base type of a simple type or of a complex type with simple content."""
    for path in (
        f"{{{XS}}}simpleContent/{{{XS}}}extension",
        f"{{{XS}}}simpleContent/{{{XS}}}restriction",
        f"{{{XS}}}restriction",
    ):
        derivation = type_el.find(path)
        if derivation is not None and derivation.get("base"):
            return _qname(derivation, derivation.get("base", ""))
    return None


def _qname(el: etree._Element, value: str) -> str:
    prefix, _, local = value.rpartition(":")
    namespace = el.nsmap.get(prefix or None, "")
    return f"{{{namespace}}}{local}"
