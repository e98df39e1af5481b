"""The Schematron layer's contract: what the pipeline needs from a Schematron engine.

The pipeline (:mod:`.steps`) depends only on these two small protocols; :mod:`.saxon` is the
implementation (and the one module that imports saxonche). The findings come back as SVRL,
read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from lxml import etree

from gateway.validation.report import RawFinding
from gateway.validation.speedups import (
    MARKER,
    SVRL,
    NativeCheck,
    NativeFinding,
    Reads,
    restore_assert_text,
)


class CompiledRules(Protocol):
    """One compiled Schematron stylesheet."""

    @property
    def reads(self) -> Reads:
        """Which elements' text the stylesheet can read (for :mod:`.speedups.standin`)."""
        ...

    def check(self, node: object, tree: etree._ElementTree) -> list[RawFinding]:
        """Findings for one document: ``node`` is the engine's tree of it, ``tree`` lxml's."""
        ...


class Stylesheet(Protocol):
    """A plain compiled stylesheet (a KoSIT report stylesheet, a generated one)."""

    def run(self, node: object, parameters: dict[str, object] | None = None) -> str: ...


class SchematronEngine(Protocol):
    """Compiles stylesheets (once, cached by path) and parses documents into its own trees."""

    def compile(self, path: Path) -> CompiledRules: ...

    def reads(self, path: Path) -> Reads:
        """What the stylesheet at ``path`` can read, without compiling it."""
        ...

    def parse(self, text: str) -> object: ...

    def stylesheet(self, path: Path | None = None, text: str | None = None) -> Stylesheet: ...


_FLAG_TO_SEVERITY = {
    "fatal": "fatal",
    "error": "error",
    "warning": "warning",
    "warn": "warning",
    "information": "information",
    "info": "information",
}


def parse_svrl(
    svrl: str,
    native: tuple[NativeCheck, ...] = (),
    tree: etree._ElementTree | None = None,
    tests: tuple[str, ...] = (),
) -> list[RawFinding]:
    """The findings in an SVRL report, in report order; a native-pattern marker is replaced
    by that pattern's findings on ``tree``, a ``test`` marker by its text (``tests``)."""
    root = etree.fromstring(svrl.encode("utf-8"))
    out = []
    answers: dict[int, list[list[NativeFinding]]] = {}  # marker n -> findings per occurrence
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
                test=restore_assert_text(el.get("test"), tests),
            )
        )
    return out
