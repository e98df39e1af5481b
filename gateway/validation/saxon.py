"""Saxon-HE (saxonche) behind the :mod:`.schematron` protocol: the one module that imports it.

Stylesheets are compiled from :mod:`.speedups.optimize`'s rewritten text (exact, in-memory
rewrites that remove work which cannot change a result) once per process and cached by path,
since several scenarios share the same XSLT; the installed files stay byte-identical to the
pinned originals. The rewritten text and its analyses come from :mod:`.speedups.cache` (on
disk between processes); Saxon's compile itself cannot be kept (SaxonC-HE exports no SEF).
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.validation.report import RawFinding
from gateway.validation.schematron import parse_svrl
from gateway.validation.speedups import ANALYSES, ANY, NativeCheck, Reads

ALLOWED_PROTOCOLS = "http://saxon.sf.net/feature/allowedProtocols"


def _bound(text: str, path: Path) -> str:
    """``text`` with every ``doc()``/``document()`` name bound to the file of the stylesheet's
    own folder it names; anything else is refused (the KoSIT safety rules, ``bind_loaders``).

    Why: Saxon does not keep the base URI of a stylesheet compiled from text (it resolved the
    Factur-X rules' ``document('FACTUR-X_EN16931_codedb.xml')`` in the working directory).
    Stylesheets without such a call (all but Factur-X's) are compiled as they are."""
    if "doc(" not in text and "document(" not in text:
        return text
    from gateway.validation.kosit import bind_loaders  # late: the kosit package imports us

    root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(no_network=True, huge_tree=True))
    if not bind_loaders(root, path, path.parent):
        return text
    return etree.tostring(root, encoding="unicode")


class SaxonRuntime:
    """The process's one Saxon processor and its compiled stylesheets (shared by all engines).

    Why one per process: SaxonC runs in a GraalVM isolate; every thread that touches it is
    attached to the isolate, and a thread that exits detaches. Several processors on several
    short-lived threads crashed the interpreter ("detachThread", exit 99), so the gateway keeps
    exactly one processor per process and touches it only from long-lived threads (the main
    thread of a worker process, or the in-process validation thread, see ``gateway.validation.pool``).
    """

    _shared: SaxonRuntime | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor  # here, so importing the package stays cheap

        self.proc = PySaxonProcessor(license=False)
        # No stylesheet, included module or document may come from the network (KoSIT's
        # advisory GHSA-hg2c-p2m3-q29m was a remote stylesheet include): file: URIs only.
        self.proc.set_configuration_property(ALLOWED_PROTOCOLS, "file")
        self.xslt = self.proc.new_xslt30_processor()
        self._compiled: dict[Path, SaxonRules] = {}
        self._plain: dict[Path | str, SaxonStylesheet] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> SaxonRuntime:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def compile(self, path: Path) -> SaxonRules:
        path = path.resolve()
        with self._lock:
            if path not in self._compiled:
                prepared = ANALYSES.prepared(path)
                executable = self.xslt.compile_stylesheet(
                    stylesheet_text=_bound(prepared.text, path), base_uri=path.as_uri()
                )
                if executable is None:  # saxonche reports compile errors on the processor
                    raise RuntimeError(f"cannot compile {path}: {self.xslt.error_message}")
                self._compiled[path] = SaxonRules(
                    self, executable, prepared.native, path, prepared.tests
                )
            return self._compiled[path]

    @classmethod
    def started(cls) -> bool:
        """Whether this process has its Saxon processor (a GraalVM isolate) already."""
        return cls._shared is not None

    def reads(self, path: Path) -> Reads:
        """What the stylesheet at ``path`` can read, as compiled (:mod:`.reads`, kept on disk),
        without compiling it."""
        return ANALYSES.reads(path.resolve())

    def parse(self, text: str) -> object:
        return self.proc.parse_xml(xml_text=text)

    def stylesheet(self, path: Path | None = None, text: str | None = None) -> SaxonStylesheet:
        """A plain stylesheet (a report stylesheet, a generated one), compiled as given, once."""
        key: Path | str = path.resolve() if path is not None else str(text)
        with self._lock:
            if key not in self._plain:
                if path is not None:
                    executable = self.xslt.compile_stylesheet(stylesheet_file=str(key))
                else:
                    executable = self.xslt.compile_stylesheet(stylesheet_text=text)
                if executable is None:
                    raise RuntimeError(
                        f"cannot compile {path or 'stylesheet'}: {self.xslt.error_message}"
                    )
                self._plain[key] = SaxonStylesheet(executable, str(path or "generated stylesheet"))
            return self._plain[key]


class SaxonStylesheet:
    """A compiled plain stylesheet; ``run`` gives its output as text."""

    def __init__(self, executable: object, name: str) -> None:
        self.executable = executable
        self.name = name

    def run(self, node: object, parameters: dict[str, object] | None = None) -> str:
        """Transform ``node`` (from :meth:`SaxonRuntime.parse`); parameters are parsed nodes."""
        ex: Any = self.executable
        ex.clear_parameters()
        for name, value in (parameters or {}).items():
            ex.set_parameter(name, value)
        out = ex.transform_to_string(xdm_node=node)
        if out is None:
            raise RuntimeError(f"{self.name}: {ex.error_message}")
        return out


class SaxonRules:
    """One compiled stylesheet, plus the patterns answered on the lxml tree (``native``)."""

    def __init__(
        self,
        runtime: SaxonRuntime,
        executable: object,
        native: tuple[NativeCheck, ...] = (),
        path: Path | None = None,
        tests: tuple[str, ...] = (),
    ) -> None:
        self.runtime = runtime
        self.executable = executable
        self.native = native
        self.path = path
        self.tests = tests  # long assert texts the SVRL carries as markers

    @cached_property
    def reads(self) -> Reads:
        """What the stylesheet, as compiled, can read (:mod:`.reads`; ~0.3 s, so on demand,
        and kept on disk by :mod:`.speedups.cache`)."""
        if self.path is None:
            return Reads(frozenset({ANY}), ("stylesheet source unknown",))
        return self.runtime.reads(self.path)

    def check(self, node: object, tree: etree._ElementTree) -> list[RawFinding]:
        """Findings for one document: ``node`` is Saxon's tree of it, ``tree`` lxml's."""
        svrl = self.executable.transform_to_string(xdm_node=node)  # type: ignore[attr-defined]
        if svrl is None:
            raise RuntimeError(f"Schematron transform failed: {self.executable.error_message}")  # type: ignore[attr-defined]
        return parse_svrl(svrl, self.native, tree, self.tests)
