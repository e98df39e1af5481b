"""The ``xs:base64Binary`` checks libxml2 does not do, and which values it need not see.

Why: libxml2 skips characters outside the base64 alphabet when it validates an
``xs:base64Binary`` value (it only counts the valid ones), so ``<cbc:EmbeddedDocumentBinaryObject
mimeCode="application/pdf" filename="a.pdf">!*!*</cbc:EmbeddedDocumentBinaryObject>`` passes the
UBL schema in libxml2 but not in Xerces (the KoSIT validator) or ``xmlschema``. The schema layer
therefore checks the text of every element whose declared type derives from ``xs:base64Binary``
against the lexical space XML Schema 1.0 defines (:func:`valid_base64`); a bad value sends the
document to ``xmlschema``, whose verdict and message are reported (see
:class:`gateway.validation.schema.SchemaLayer`).

The same check makes libxml2's own pass over a large attachment (~2 ms for 400 KB) unnecessary:
when every declaration of an element name has a *plain* base64 type - no facet on the way from
``xs:base64Binary``, no fixed value, and the schema set has no identity constraints - every valid
value validates alike, so libxml2 may validate a short stand-in instead (:mod:`.standin`).

Which elements: found by reading the schema documents (the main XSD and everything it imports
or includes) with lxml - a named or anonymous type whose ``base`` chain reaches
``xs:base64Binary``. Loading the schema in ``xmlschema`` would give the same answer but takes
three seconds per schema; ``tests/validation/speedups/test_base64_values.py`` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BASE64 = f"{{{XS}}}base64Binary"
_B16 = frozenset(b"AEIMQUYcgkosw048")  # last character before "=": its low 2 bits are zero
_B04 = frozenset(b"AQgw")  # last character before "==": its low 4 bits are zero
# Children of a derivation step that are not facets (they add attributes or say nothing).
_NOT_FACETS = frozenset(
    f"{{{XS}}}{name}" for name in ("annotation", "attribute", "attributeGroup", "anyAttribute")
)


@dataclass(frozen=True)
class Base64Elements:
    """Clark names of the elements whose declared type derives from ``xs:base64Binary``
    (``names``), and those of them whose every declaration is plain (``plain``)."""

    names: frozenset[str]
    plain: frozenset[str]

    def may_stand_in(self, el: etree._Element) -> bool:
        """True if libxml2 may validate a stand-in for ``el``'s (valid) text: a plain type,
        and no ``xsi:type`` or ``xsi:nil`` to change what the element is validated against."""
        return el.tag in self.plain and not any(name.startswith(f"{{{XSI}}}") for name in el.attrib)


def base64_elements(xsd: Path, documents: set[Path] | None = None) -> Base64Elements:
    """The base64-typed elements the schema at ``xsd`` declares; the schema documents read
    (``xsd`` and what it imports or includes) are added to ``documents``."""
    facts = _Collected()
    seen: set[Path] = set()
    _read(xsd.resolve(), facts, seen)
    if documents is not None:
        documents |= seen
    names = frozenset(
        name
        for name, decls in facts.elements.items()
        if any(_derives(t, facts.bases) for t, _ in decls)
    )
    plain = frozenset(
        name
        for name in names
        if not facts.constrained
        and all(
            own_plain and _derives(t, facts.bases, facts.faceted)
            for t, own_plain in facts.elements[name]
        )
    )
    return Base64Elements(names, plain)


def valid_base64(text: str) -> bool:
    """True if ``text`` is in the lexical space of ``xs:base64Binary`` (XML Schema 1.0, after
    whitespace collapsing: the grammar allows a single space between any two characters, so
    removing whitespace first is exact). The same test as Xerces and ``xmlschema``.

    Written with the byte operations CPython runs at memory speed (``in``, ``replace``,
    ``isalnum``), because attachments are hundreds of kilobytes: 0.2 ms for 400 KB, where
    ``translate`` or a regular expression take 0.6-1.1 ms."""
    if not text.isascii():
        return False
    raw = text.encode("ascii")
    for space in (b" ", b"\t", b"\r", b"\n"):
        if space in raw:
            raw = raw.replace(space, b"")
    if len(raw) % 4:
        return False
    body = raw.rstrip(b"=")
    padding = len(raw) - len(body)
    if padding > 2 or (body and not body.replace(b"+", b"A").replace(b"/", b"A").isalnum()):
        return False
    if padding == 1:
        return body[-1] in _B16
    if padding == 2:
        return body[-1] in _B04
    return True


def bad_base64(tree: etree._ElementTree, names: frozenset[str]) -> bool:
    """True if one of the named elements holds a value outside ``xs:base64Binary``'s lexical
    space (its whole text: comments inside an element do not split its value)."""
    if not names:
        return False
    for el in tree.getroot().iter(*names):
        text = (el.text or "") if len(el) == 0 else "".join(el.itertext())
        if not valid_base64(text):
            return True
    return False


def _derives(
    type_name: str | None,
    bases: dict[str, str | None],
    faceted: frozenset[str] | set[str] = frozenset(),
) -> bool:
    """True if ``type_name`` derives from ``xs:base64Binary`` with no step in ``faceted``."""
    for _ in range(50):  # derivation chains are short; a cycle is a broken schema
        if type_name is None or type_name in faceted:
            return False
        if type_name == BASE64:
            return True
        type_name = bases.get(type_name)
    return False


@dataclass
class _Collected:
    """What a schema set declares, gathered over its documents."""

    bases: dict[str, str | None] = field(default_factory=dict)  # named type -> base type
    faceted: set[str] = field(default_factory=set)  # named types that add facets to their base
    # element name -> (its declared type or an anonymous type's base, declared without facets
    # or fixed value) per declaration
    elements: dict[str, set[tuple[str | None, bool]]] = field(default_factory=dict)
    constrained: bool = False  # identity constraints or redefinitions somewhere


def _read(path: Path, into: _Collected, seen: set[Path]) -> None:
    if path in seen or not path.is_file():
        return
    seen.add(path)
    facts = _facts(path)
    for ref in facts.refs:
        _read(ref, into, seen)
    into.bases.update(facts.bases)
    into.faceted.update(facts.faceted)
    into.constrained |= facts.constrained
    for name, type_name, own_plain in facts.elements:
        into.elements.setdefault(name, set()).add((type_name, own_plain))


@dataclass(frozen=True)
class _Facts:
    refs: tuple[Path, ...]  # imported / included schema documents
    bases: dict[str, str | None]  # named type -> its base type
    faceted: frozenset[str]  # named types whose own derivation step has facets
    elements: tuple[tuple[str, str | None, bool], ...]  # declaration -> type, plain itself
    constrained: bool  # xs:unique / xs:key / xs:keyref / xs:redefine in this document


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
    bases: dict[str, str | None] = {}
    faceted = set()
    for kind in ("complexType", "simpleType"):
        for t in schema.iterchildren(f"{{{XS}}}{kind}"):
            name = f"{{{tns}}}{t.get('name')}"
            bases[name], has_facets = _derivation(t)
            if has_facets:
                faceted.add(name)
    elements = []
    for el in schema.iter(f"{{{XS}}}element"):
        name = el.get("name")
        if name is None:
            continue  # a reference to a global declaration, read where it is declared
        is_global = el.getparent() is schema
        form = el.get("form", "qualified" if qualified else "unqualified")
        namespace = tns if is_global or form == "qualified" else ""
        own_plain = el.get("fixed") is None and el.get("default") is None
        if el.get("type"):
            type_name: str | None = _qname(el, el.get("type", ""))
        else:
            anonymous = el.find(f"{{{XS}}}complexType")
            if anonymous is None:
                anonymous = el.find(f"{{{XS}}}simpleType")
            type_name, has_facets = (
                _derivation(anonymous) if anonymous is not None else (None, False)
            )
            own_plain = own_plain and not has_facets
        elements.append((f"{{{namespace}}}{name}", type_name, own_plain))
    constrained = any(
        True
        for _ in schema.iter(
            f"{{{XS}}}unique", f"{{{XS}}}key", f"{{{XS}}}keyref", f"{{{XS}}}redefine"
        )
    )
    return _Facts(refs, bases, frozenset(faceted), tuple(elements), constrained)


def _derivation(type_el: etree._Element) -> tuple[str | None, bool]:
    """The base type of a simple type or of a complex type with simple content, and whether
    this step adds anything that constrains the value (a facet, a nested simple type)."""
    for path in (
        f"{{{XS}}}simpleContent/{{{XS}}}extension",
        f"{{{XS}}}simpleContent/{{{XS}}}restriction",
        f"{{{XS}}}restriction",
    ):
        derivation = type_el.find(path)
        if derivation is not None and derivation.get("base"):
            facets = any(
                child.tag not in _NOT_FACETS
                for child in derivation
                if isinstance(child.tag, str)  # comments and PIs say nothing
            )
            return _qname(derivation, derivation.get("base", "")), facets
    return None, False


def _qname(el: etree._Element, value: str) -> str:
    prefix, _, local = value.rpartition(":")
    namespace = el.nsmap.get(prefix or None, "")
    return f"{{{namespace}}}{local}"
