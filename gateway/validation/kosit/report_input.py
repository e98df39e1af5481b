"""``createReportInput``: what the KoSIT validator hands its configuration's report stylesheet.

Built as KoSIT 1.6 builds it (``DefaultCheck.createReport``, ``CreateDocumentIdentificationAction``,
``DocumentParseAction``, ``SchemaValidationAction``, ``SchematronValidationAction``): the engine,
a timestamp, the document's SHA-256 (base64) and reference (its name), a copy of the matched
``<scenario>`` element, the well-formedness, XML Schema and Schematron results (SVRL) and any
processing errors; valid against ``createReportInput.xsd`` (a test checks that).

The SVRL is written from the findings the Schematron layer returned, one ``failed-assert`` each
with its id, flag (the rule's own severity: custom levels are the report stylesheet's business,
as in KoSIT), location, test and text. The gateway's speed-ups drop SVRL elements no report
reads (``fired-rule``, ``active-pattern``; see :mod:`gateway.validation.speedups.optimize`), so
those are not in it.
"""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version

from lxml import etree

from gateway.validation.report import RawFinding

IN = "http://www.xoev.de/de/validator/framework/1/createreportinput"
S = "http://www.xoev.de/de/validator/framework/1/scenarios"
SVRL = "http://purl.oclc.org/dsdl/svrl"
FRAMEWORK_VERSION = "1.0.2"  # what KoSIT 1.6 writes (app-info.properties framework_version)
_NSMAP = {"in": IN, "s": S, "svrl": SVRL}


@functools.cache
def engine_name() -> str:
    try:
        return f"einvoice-gateway {version('einvoice-gateway')}"
    except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "einvoice-gateway"


class ReportInput:
    """One ``createReportInput`` document, filled in step by step."""

    def __init__(self, data: bytes, name: str) -> None:
        self.root = etree.Element(f"{{{IN}}}createReportInput", nsmap=_NSMAP)
        self.root.set("frameworkVersion", FRAMEWORK_VERSION)
        engine = self._add(self.root, "engine")
        self._add(engine, "name", engine_name())
        now = datetime.datetime.now(datetime.UTC).astimezone()
        self._add(self.root, "timestamp", now.isoformat(timespec="milliseconds"))
        ident = self._add(self.root, "documentIdentification")
        digest = self._add(ident, "documentHash")
        self._add(digest, "hashAlgorithm", "SHA-256")
        self._add(digest, "hashValue", base64.b64encode(hashlib.sha256(data).digest()).decode())
        self._add(ident, "documentReference", name)
        self._errors: list[str] = []

    @staticmethod
    def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        el = etree.SubElement(parent, f"{{{IN}}}{name}")
        if text is not None:
            el.text = text
        return el

    def scenario(self, element: etree._Element) -> None:
        self.root.append(_clean_copy(element))

    def wellformedness(self, errors: list[tuple[str, int | None, int | None]]) -> None:
        section = self._add(self.root, "validationResultsWellformedness")
        for message, line, column in errors:
            self._syntax_error(section, message, "SEVERITY_FATAL_ERROR", line, column)

    def xml_schema(self, resource: etree._Element, findings: list[RawFinding]) -> None:
        section = self._add(self.root, "validationResultsXmlSchema")
        section.append(_clean_copy(resource))
        for f in findings:
            self._syntax_error(section, f.message, "SEVERITY_ERROR", f.line, f.column)

    def schematron(self, resource: etree._Element, findings: list[RawFinding]) -> None:
        section = self._add(self.root, "validationResultsSchematron")
        section.append(_clean_copy(resource))
        output = etree.SubElement(self._add(section, "results"), f"{{{SVRL}}}schematron-output")
        for f in findings:
            fa = etree.SubElement(output, f"{{{SVRL}}}failed-assert")
            fa.set("id", f.rule)
            fa.set("flag", f.severity)
            fa.set("location", f.location or "")
            fa.set("test", f.test or "")
            etree.SubElement(fa, f"{{{SVRL}}}text").text = f.message

    def processing_error(self, message: str) -> None:
        self._errors.append(message)

    def _syntax_error(
        self,
        parent: etree._Element,
        message: str,
        severity: str,
        line: int | None,
        column: int | None,
    ) -> None:
        el = self._add(parent, "xmlSyntaxError")
        self._add(el, "message", " ".join(message.split()))
        self._add(el, "severityCode", severity)
        if line is not None:
            self._add(el, "rowNumber", str(line))
        if column is not None:
            self._add(el, "columnNumber", str(column))

    def text(self) -> str:
        if self._errors:
            section = self._add(self.root, "processingError")
            for message in self._errors:
                self._add(section, "error", message)
            self._errors = []
        return etree.tostring(self.root, encoding="unicode")


def error_message_document(message: str) -> str:
    """KoSIT's stand-in for the input document when it could not be parsed."""
    el = etree.Element(f"{{{IN}}}error-message", nsmap={None: IN})
    el.text = message
    return etree.tostring(el, encoding="unicode")


def _clean_copy(element: etree._Element) -> etree._Element:
    """The element without comments and processing instructions (KoSIT copies its model)."""
    out = copy.deepcopy(element)
    for node in out.xpath("descendant::comment() | descendant::processing-instruction()"):
        parent, previous = node.getparent(), node.getprevious()
        if node.tail:  # keep the text that followed the comment
            if previous is not None:
                previous.tail = (previous.tail or "") + node.tail
            else:
                parent.text = (parent.text or "") + node.tail
        parent.remove(node)
    return out
