"""The XML Schema layer: libxml2 via lxml, with ``xmlschema`` as the authority on failures."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from gateway.validation.compiling import compiling
from gateway.validation.report import RawFinding
from gateway.validation.speedups import ANALYSES, LargeLeaves, bad_base64

_XSD_RULES = {
    "DecodeError": "XSD-DATATYPE",
    "ChildrenValidationError": "XSD-CONTENT",
    "ValidationError": "XSD-VALIDATION",
}


class SchemaLayer:
    """XML Schema validation: libxml2 first, ``xmlschema`` as the authority on failures.

    Why two engines: libxml2 (via lxml) validates a typical invoice in ~0.2 ms, but it is not
    fully conformant. It rejects, for example, whitespace around ``xs:date`` values in UBL's
    simple-content types although the type's ``whiteSpace=collapse`` facet allows it (the
    official Peppol MLS example RE3 has exactly that). ``xmlschema`` follows the XSD 1.0 spec
    closely but takes ~30 ms per document. So valid documents take the fast path, and only a
    libxml2 failure is re-checked by ``xmlschema``, whose verdict and messages are reported.
    The other way round, libxml2 accepts characters outside the base64 alphabet in
    ``xs:base64Binary`` values; :mod:`.base64_values` checks those values itself, sends a document
    with a bad one to ``xmlschema`` as well, and lets libxml2 validate stand-ins for large good
    ones. Loading never touches the network (``no_network`` for libxml2, local files for
    ``xmlschema``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        self.fast = etree.XMLSchema(etree.parse(str(path), parser))
        self.base64 = ANALYSES.base64(path)  # what libxml2 checks too leniently
        self._strict: object | None = None

    def _strict_schema(self) -> object:
        if self._strict is None:
            import xmlschema

            with compiling():  # a one-time build: never charged to a document's deadline
                self._strict = xmlschema.XMLSchema10(str(self.path), allow="local")
        return self._strict

    def check(
        self, tree: etree._ElementTree, leaves: LargeLeaves | None = None
    ) -> list[RawFinding]:
        """XSD findings for ``tree``. With ``leaves``, large plain base64 values are checked
        here and libxml2 validates stand-ins for them (:mod:`.standin`); they are left in place
        for the next layer unless ``xmlschema`` has to read the real values."""
        if not bad_base64(tree, self.base64.names):
            if leaves is not None:
                leaves.stand_in(leaf for leaf in leaves.leaves if self.base64.may_stand_in(leaf))
            if self.fast.validate(tree):
                return []
        if leaves is not None:
            leaves.restore()
        return self._strict_findings(tree)

    def _strict_findings(self, tree: etree._ElementTree) -> list[RawFinding]:
        out = []
        for err in self._strict_schema().iter_errors(tree):  # type: ignore[attr-defined]
            kind = type(err).__name__.removeprefix("XMLSchema")
            out.append(
                RawFinding(
                    rule=_XSD_RULES.get(kind, "XSD-VALIDATION"),
                    severity="error",
                    location=err.path,
                    message=err.reason or str(err).splitlines()[0],
                    line=getattr(err, "sourceline", None),
                )
            )
        return out
