"""The KoSIT-specific steps; the others (identify, schema, schematron) are the gateway's own.

- :class:`Parse`: the gateway's safe parser first (KoSIT's ``DocumentParseAction`` would let
  Saxon parse whatever comes); a refusal ends the run with KoSIT's ``noScenarioMatched`` report.
- :class:`Select`: every scenario's ``match`` XPath with its namespaces; exactly one must
  match (``ScenarioRepository.selectScenario``), otherwise the fallback report.
- :class:`Report`: ``createReportInput`` -> the scenario's report stylesheet.
- :class:`Acceptance`: ``acceptMatch`` on the report (``ComputeAcceptanceAction``).

All XPath expressions of the configuration are compiled once, into small generated
stylesheets, so a document costs no XPath compilation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from gateway.documents import ParseLimits, XmlRefused, parse_xml
from gateway.validation import steps
from gateway.validation.kosit.config import KositConfig, KositScenario
from gateway.validation.kosit.report_input import ReportInput, error_message_document
from gateway.validation.report import ValidationReport
from gateway.validation.schematron import SchematronEngine, Stylesheet
from gateway.validation.speedups import saxon_text

XSL = "http://www.w3.org/1999/XSL/Transform"
_PLAIN_PATH = re.compile(r"(/[A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*(\[[1-9][0-9]*\])?)+")
_REPORT_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
REP = "http://www.xoev.de/de/validator/varl/1"


class Kosit:
    """The configuration and its compiled helpers, shared by the KoSIT steps."""

    def __init__(self, config: KositConfig, saxon: Callable[[], SchematronEngine]) -> None:
        self.config = config
        self.saxon = saxon
        self.by_id = config.by_id()
        self._matcher: Stylesheet | None = None
        self._accept: dict[str, Stylesheet] = {}

    def matcher(self) -> Stylesheet:
        if self._matcher is None:
            tests = [(str(i), k.match, k.namespaces) for i, k in enumerate(self.config.scenarios)]
            self._matcher = self.saxon().stylesheet(text=_tests_stylesheet(tests))
        return self._matcher

    def acceptor(self, k: KositScenario) -> Stylesheet:
        sid = k.scenario.id
        if sid not in self._accept:
            assert k.accept_match is not None
            text = _tests_stylesheet([("true", k.accept_match, k.namespaces)])
            self._accept[sid] = self.saxon().stylesheet(text=text)
        return self._accept[sid]

    def accepts(self, k: KositScenario, report: str) -> bool:
        """``acceptMatch`` on the report. A plain location path such as KoSIT's usual
        ``/rep:report/rep:assessment[1]/rep:accept[1]`` means the same in XPath 1.0, so lxml
        answers it on the report's tree (~0.3 ms) instead of Saxon parsing it again (~2 ms)."""
        assert k.accept_match is not None
        if _PLAIN_PATH.fullmatch(k.accept_match):
            root = etree.fromstring(report.encode("utf-8"), _REPORT_PARSER)
            namespaces = {p: uri for p, uri in k.namespaces.items() if p}
            return bool(root.getroottree().xpath(k.accept_match, namespaces=namespaces))
        return self.acceptor(k).run(self.saxon().parse(report)).split() == ["true"]

    def report_stylesheet(self, rel: str) -> Stylesheet:
        return self.saxon().stylesheet(path=self.config.repository / rel)

    def warm(self) -> None:
        self.matcher()
        self.report_stylesheet(self.config.fallback_report)
        for k in self.config.scenarios:
            self.report_stylesheet(k.report)
            if k.accept_match:
                self.acceptor(k)

    def fallback(
        self, run: steps.Run, status: str, reason: str, document: object, errors: list
    ) -> ValidationReport:
        """KoSIT's report when no scenario applies (``noScenarioMatched``)."""
        doc = ReportInput(run.data, run.name)
        doc.wellformedness(errors)
        text = self.run_report(self.config.fallback_report, doc, document)
        return ValidationReport(
            status=status,
            reason=reason,
            findings=[],
            document=run.info.to_dict() if run.info is not None else None,
            timings=run.timings,
            kosit_report=text,
        )

    def run_report(self, rel: str, doc: ReportInput, document: object) -> str:
        saxon = self.saxon()
        return self.report_stylesheet(rel).run(
            saxon.parse(doc.text()), {"input-document": document}
        )


def _tests_stylesheet(tests: list[tuple[str, str, dict[str, str]]]) -> str:
    """A stylesheet printing the label of each test that holds (a dynamic error: false)."""
    root = etree.Element(f"{{{XSL}}}stylesheet", nsmap={"xsl": XSL}, version="3.0")
    etree.SubElement(root, f"{{{XSL}}}output", method="text")
    template = etree.SubElement(root, f"{{{XSL}}}template", match="/")
    for label, test, namespaces in tests:
        attempt = etree.SubElement(template, f"{{{XSL}}}try")
        nsmap = {p: uri for p, uri in namespaces.items() if p and p != "xsl"}
        branch = etree.SubElement(attempt, f"{{{XSL}}}if", nsmap=nsmap, test=test)
        etree.SubElement(branch, f"{{{XSL}}}text").text = label + " "
        etree.SubElement(attempt, f"{{{XSL}}}catch")
    return etree.tostring(root, encoding="unicode")


class Parse:
    name = "parse"

    def __init__(self, kosit: Kosit, limits: ParseLimits) -> None:
        self.kosit = kosit
        self.limits = limits

    def run(self, run: steps.Run) -> None:
        try:
            run.tree = parse_xml(run.data, self.limits)
        except XmlRefused as refused:
            stand_in = self.kosit.saxon().parse(error_message_document(refused.message))
            errors = [(refused.message, refused.line, refused.column)]
            report = self.kosit.fallback(run, refused.code, refused.message, stand_in, errors)
            report.findings = steps.refusal(refused).findings
            run.finish(report)


class Select:
    name = "select"

    def __init__(self, kosit: Kosit) -> None:
        self.kosit = kosit

    def run(self, run: steps.Run) -> None:
        assert run.tree is not None
        text = saxon_text(run.data, run.tree, None, None)
        node = self.kosit.saxon().parse(text)
        run.extra["saxon-document"] = (text, node)  # the Schematron step reuses it if it can
        if run.forced is not None:
            chosen = [self.kosit.by_id[run.forced.id]]
        else:
            hits = self.kosit.matcher().run(node).split()
            chosen = [self.kosit.config.scenarios[int(i)] for i in hits]
        if len(chosen) != 1:
            why = (
                "None of the loaded scenarios matches the specified document"
                if not chosen
                else "More than one scenario matches the specified document"
            )
            run.finish(self.kosit.fallback(run, "no-scenario", why, node, []))
            return
        run.scenario = chosen[0].scenario
        run.extra["kosit"] = chosen[0]


class Report:
    """The gateway's report (findings with custom levels, lines) plus KoSIT's."""

    name = "report"

    def __init__(self, kosit: Kosit, ours: steps.Report) -> None:
        self.kosit = kosit
        self.ours = ours

    def run(self, run: steps.Run) -> None:
        k: KositScenario = run.extra["kosit"]
        doc = ReportInput(run.data, run.name)
        doc.scenario(k.element)
        doc.wellformedness([])
        outputs = iter(run.layer_output)
        xsd = next(outputs, ("xsd", []))[1]
        if k.schema_resource is not None:
            doc.xml_schema(k.schema_resource, xsd)
        for resource, (_, raws) in zip(k.schematron_resources, outputs, strict=False):
            errors = [r for r in raws if r.rule == "SCHEMATRON-PROCESSING"]
            for error in errors:
                doc.processing_error(error.message)
            doc.schematron(resource, [r for r in raws if r.rule != "SCHEMATRON-PROCESSING"])
            if errors:
                run.extra["processing-error"] = errors[0].message
        self.ours.run(run)
        assert run.report is not None
        run.report.kosit_report = self.kosit.run_report(
            k.report, doc, run.extra["saxon-document"][1]
        )


class Acceptance:
    """``acceptMatch`` on the report when the XSD passed; otherwise valid XSD and no failed
    assert at all (KoSIT's ``evaluateSchemaAndSchematron``)."""

    name = "acceptance"

    def __init__(self, kosit: Kosit) -> None:
        self.kosit = kosit

    def run(self, run: steps.Run) -> None:
        report = run.report
        assert report is not None and report.kosit_report is not None
        k: KositScenario = run.extra["kosit"]
        schema_ok = not any(raws for src, raws in run.layer_output if src == "xsd")
        if "processing-error" in run.extra:
            report.status, report.reason = "processing-error", run.extra["processing-error"]
            return
        if schema_ok and k.accept_match:
            try:
                accepted = self.kosit.accepts(k, report.kosit_report)
            except Exception as exc:  # KoSIT stops processing: the daemon answers 422
                report.status, report.reason = "processing-error", f"acceptMatch: {exc}"
                return
        else:
            accepted = schema_ok and not any(raws for _, raws in run.layer_output[1:])
        report.status = "accepted" if accepted else "rejected"
