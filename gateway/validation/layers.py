"""The two rule engines: XML Schema (libxml2 via lxml) and Schematron (Saxon via saxonche).

Both compile once per process and are cached by artefact path, since several scenarios share
the same XSD or XSLT. Schematron stylesheets are compiled from :mod:`.optimize`'s rewritten
text (exact, in-memory rewrites that remove work which cannot change a result); the installed
files stay byte-identical to the pinned originals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.validation.base64_values import bad_base64, base64_elements
from gateway.validation.native import MARKER, Finding, NativeCheck
from gateway.validation.optimize import SVRL, prepared_stylesheet
from gateway.validation.reads import ANY, Reads, stylesheet_reads
from gateway.validation.standin import LargeLeaves

_FLAG_TO_SEVERITY = {
    "fatal": "fatal",
    "error": "error",
    "warning": "warning",
    "warn": "warning",
    "information": "information",
    "info": "information",
}


@dataclass
class RawFinding:
    rule: str
    severity: str
    location: str | None
    message: str
    test: str | None = None
    line: int | None = None
    column: int | None = None


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
        self.base64 = base64_elements(path)  # what libxml2 checks too leniently
        self._strict: object | None = None

    def _strict_schema(self) -> object:
        if self._strict is None:
            import xmlschema

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


class SaxonRuntime:
    """The process's one Saxon processor and its compiled stylesheets (shared by all engines).

    Why one per process: SaxonC runs in a GraalVM isolate; every thread that touches it is
    attached to the isolate, and a thread that exits detaches. Several processors on several
    short-lived threads crashed the interpreter ("detachThread", exit 99), so the gateway keeps
    exactly one processor per process and touches it only from long-lived threads (the main
    thread of a worker process, or the in-process validation thread, see ``pool``).
    """

    _shared: SaxonRuntime | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        self.proc = PySaxonProcessor(license=False)
        self.xslt = self.proc.new_xslt30_processor()
        self._compiled: dict[Path, SchematronLayer] = {}
        self._plain: dict[Path, XsltStylesheet] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> SaxonRuntime:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def compile(self, path: Path) -> SchematronLayer:
        path = path.resolve()
        with self._lock:
            if path not in self._compiled:
                prepared = prepared_stylesheet(path)
                executable = self.xslt.compile_stylesheet(
                    stylesheet_text=prepared.text, base_uri=path.as_uri()
                )
                if executable is None:  # saxonche reports compile errors on the processor
                    raise RuntimeError(f"cannot compile {path}: {self.xslt.error_message}")
                self._compiled[path] = SchematronLayer(self, executable, prepared.native, path)
            return self._compiled[path]

    def parse(self, text: str) -> object:
        return self.proc.parse_xml(xml_text=text)

    def stylesheet(self, path: Path) -> XsltStylesheet:
        """A plain XSLT stylesheet (no Schematron preparation), compiled once per process from
        its file, so its imports and ``unparsed-text()`` resolve beside it (renderings)."""
        path = path.resolve()
        with self._lock:
            if path not in self._plain:
                executable = self.xslt.compile_stylesheet(stylesheet_file=str(path))
                if executable is None:
                    raise RuntimeError(f"cannot compile {path}: {self.xslt.error_message}")
                self._plain[path] = XsltStylesheet(self, executable)
            return self._plain[path]


class XsltStylesheet:
    """One compiled plain stylesheet: text in, text out, string parameters.

    Call it only on the Saxon thread (``gateway.validation.saxon_thread``): the parameters are
    set on the shared executable just before each transform.
    """

    def __init__(self, runtime: SaxonRuntime, executable: object) -> None:
        self.runtime = runtime
        self.executable = executable

    def transform(self, xml_text: str, params: dict[str, str] | None = None) -> str:
        ex: Any = self.executable
        ex.clear_parameters()
        for name, value in (params or {}).items():
            ex.set_parameter(name, self.runtime.proc.make_string_value(value))
        out = ex.transform_to_string(xdm_node=self.runtime.parse(xml_text))
        if out is None:
            raise RuntimeError(f"XSLT transform failed: {ex.error_message}")
        return out


class SchematronLayer:
    """One compiled stylesheet, plus the patterns answered on the lxml tree (``native``)."""

    def __init__(
        self,
        runtime: SaxonRuntime,
        executable: object,
        native: tuple[NativeCheck, ...] = (),
        path: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.executable = executable
        self.native = native
        self.path = path

    @cached_property
    def reads(self) -> Reads:
        """What the stylesheet, as compiled, can read (:mod:`.reads`; ~0.3 s, so on demand)."""
        if self.path is None:
            return Reads(frozenset({ANY}), ("stylesheet source unknown",))
        text = prepared_stylesheet(self.path).text
        return stylesheet_reads(etree.fromstring(text.encode("utf-8")))

    def check(self, node: object, tree: etree._ElementTree) -> list[RawFinding]:
        """Findings for one document: ``node`` is Saxon's tree of it, ``tree`` lxml's."""
        svrl = self.executable.transform_to_string(xdm_node=node)  # type: ignore[attr-defined]
        if svrl is None:
            raise RuntimeError(f"Schematron transform failed: {self.executable.error_message}")  # type: ignore[attr-defined]
        return parse_svrl(svrl, self.native, tree)


def parse_svrl(
    svrl: str,
    native: tuple[NativeCheck, ...] = (),
    tree: etree._ElementTree | None = None,
) -> list[RawFinding]:
    """The findings in an SVRL report, in report order; a native-pattern marker is replaced
    by that pattern's findings on ``tree``."""
    root = etree.fromstring(svrl.encode("utf-8"))
    out = []
    answers: dict[int, list[list[Finding]]] = {}  # marker n -> findings per occurrence
    seen: dict[int, int] = {}  # marker n -> occurrences so far (a rule may fire several times)
    for el in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report", MARKER):
        if el.tag == MARKER:
            if tree is None:
                raise ValueError("this SVRL has native-pattern markers: pass the document tree")
            n = int(el.get("n"))
            k = seen[n] = seen.get(n, -1) + 1
            if n not in answers:
                answers[n] = native[n].findings(tree)
            for rule, flag, location, message, test in answers[n][k]:
                severity = _FLAG_TO_SEVERITY.get(flag.strip().lower(), "error")
                out.append(RawFinding(rule, severity, location, message, test))
            continue
        flag = (el.get("flag") or el.get("role") or "error").strip().lower()
        text = el.find(f"{{{SVRL}}}text")
        message = " ".join((text.text or "").split()) if text is not None else ""
        out.append(
            RawFinding(
                rule=el.get("id") or "",
                severity=_FLAG_TO_SEVERITY.get(flag, "error"),
                location=el.get("location"),
                message=message,
                test=el.get("test"),
            )
        )
    return out
