"""The steps of the validation pipeline, as small named objects (the KoSIT validator's shape).

KoSIT's ``DefaultCheck`` runs a list of actions (``DocumentParseAction``,
``ScenarioSelectionAction``, ``SchemaValidationAction``, ``SchematronValidationAction``,
``CreateReportAction``, ``ComputeAcceptanceAction``) over one mutable bag, timing each. Here
the same: :class:`~gateway.validation.engine.Engine` runs a tuple of :class:`Step` objects over
one :class:`Run`; a step that decides the outcome early (a refusal, no scenario) calls
``run.finish(report)`` and the loop stops. Each step gets what it needs when it is built, so the
gateway's own scenarios and a KoSIT configuration run through the same steps with a different
selector, report and acceptance (:mod:`gateway.validation.kosit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from lxml import etree

from gateway.documents import (
    PDF_MAGIC,
    DocumentInfo,
    ParseLimits,
    PdfUnreadable,
    XmlRefused,
    identify,
    invoice_xml,
    parse_xml,
)
from gateway.validation.compiling import compiling
from gateway.validation.report import BLOCKING, Finding, RawFinding, ValidationReport
from gateway.validation.scenarios import Scenario
from gateway.validation.schema import SchemaLayer
from gateway.validation.schematron import CompiledRules, SchematronEngine
from gateway.validation.speedups import LargeLeaves, Locator, Reads, saxon_text

#: The XSD layer's position among a run's layers (a Schematron layer ``i`` is ``i + 1``).
XSD = 0


@dataclass
class Run:
    """One document's way through the steps (KoSIT's ``CheckAction.Bag``)."""

    data: bytes
    forced: Scenario | None = None
    #: The input's name (KoSIT's document reference: a file name, the daemon's last path segment).
    name: str = ""
    tree: etree._ElementTree | None = None
    info: DocumentInfo | None = None
    scenario: Scenario | None = None
    leaves: LargeLeaves | None = None
    findings: list[Finding] = field(default_factory=list)
    #: Per layer, what the rule engine said (for reports that carry it, such as KoSIT's).
    layer_output: list[tuple[str, list[RawFinding]]] = field(default_factory=list)
    #: The report, once a step has made it.
    report: ValidationReport | None = None
    #: Set (with the report) by a step that decides the outcome early; the loop stops.
    finished: bool = False
    #: Anything a step leaves for a later one (e.g. the KoSIT report document).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Layers another process runs for this run (:data:`XSD`, or 1 + a Schematron layer's
    #: index; see :mod:`.ahead`): the Schema and Schematron steps leave them out.
    delegated: frozenset[int] = frozenset()
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self._clock = self.started

    def finish(self, report: ValidationReport) -> None:
        self.report, self.finished = report, True

    def lap(self, name: str) -> None:
        """Record the time since the last lap under ``name`` (milliseconds)."""
        now = time.perf_counter()
        self.timings[name] = round((now - self._clock) * 1000, 3)
        self._clock = now


class Step(Protocol):
    #: Its key in ``report.timings`` (a step that splits its time into laps records those).
    name: str

    def run(self, run: Run) -> None: ...


class Parse:
    """The gateway's safe parser (no DTDs, entities or network; size and depth limits)."""

    name = "parse"

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits

    def run(self, run: Run) -> None:
        if run.data.startswith(PDF_MAGIC) and not self._unwrap(run):
            return
        try:
            run.tree = parse_xml(run.data, self.limits)
        except XmlRefused as refused:
            run.finish(refusal(refused))

    def _unwrap(self, run: Run) -> bool:
        """A PDF (Factur-X, ZUGFeRD) is validated by the invoice XML it carries: that file
        replaces the input and ``container`` is ``pdf`` (scenarios may be chosen by it). A PDF
        without one is refused (``no-invoice-in-pdf``); returns whether the run goes on."""
        try:
            found = invoice_xml(run.data, self.limits.max_bytes)
        except PdfUnreadable as exc:
            found, why = None, f"the PDF cannot be read: {exc}"
        else:
            why = "the PDF carries no invoice XML (factur-x.xml, zugferd-invoice.xml, ...)"
        if found is None:
            finding = Finding("PDF-NO-INVOICE", "fatal", "/", why, "parser")
            run.finish(
                ValidationReport(
                    status="no-invoice-in-pdf", reason=why, findings=[finding], timings=run.timings
                )
            )
            return False
        run.data = found.data
        run.extra["container"] = "pdf"
        run.extra["embedded_file"] = found.name
        return True


class Identify:
    name = "identify"

    def run(self, run: Run) -> None:
        assert run.tree is not None
        run.info = identify(run.tree)


Selector = Callable[[etree._ElementTree, DocumentInfo], Scenario | None]


class Select:
    """The forced scenario, else the first one ``selector`` finds; none ends the run."""

    name = "select"

    def __init__(
        self,
        selector: Selector,
        no_scenario: Callable[[Run], ValidationReport],
        in_container: Callable[[str, DocumentInfo], Scenario | None] | None = None,
    ) -> None:
        self.selector = selector
        self.no_scenario = no_scenario
        #: The selection for a document that came inside a container (a Factur-X PDF).
        self.in_container = in_container

    def run(self, run: Run) -> None:
        assert run.tree is not None and run.info is not None
        container = run.extra.get("container")
        if run.forced is None and container is not None and self.in_container is not None:
            run.scenario = self.in_container(container, run.info)
        else:
            run.scenario = run.forced or self.selector(run.tree, run.info)
        if run.scenario is None:
            run.finish(self.no_scenario(run))


class Rules:
    """A scenario set's compiled rules, by path relative to ``base`` (compiled on first use)."""

    def __init__(self, base: Any, schematron: Callable[[], SchematronEngine]) -> None:
        self.base = base
        self.engine = schematron
        self._schemas: dict[str, SchemaLayer] = {}
        self._xslts: dict[str, CompiledRules] = {}
        self._reads: dict[str, Reads] = {}

    # Every one-time build runs inside compiling(): a document's deadline never pays for it.
    def schema(self, rel: str) -> SchemaLayer:
        if rel not in self._schemas:
            with compiling():
                self._schemas[rel] = SchemaLayer(self.base / rel)
        return self._schemas[rel]

    def schematron(self, rel: str) -> CompiledRules:
        if rel not in self._xslts:
            with compiling():
                self._xslts[rel] = self.engine().compile(self.base / rel)
        return self._xslts[rel]

    def reads(self, scenario: Scenario) -> Reads:
        """What any of the scenario's stylesheets can read (computed on first need, from the
        analysis alone: a layer another process runs is never compiled here, see :mod:`.ahead`)."""
        if scenario.id not in self._reads:
            reads = Reads(frozenset())
            with compiling():
                for layer in scenario.schematron:
                    reads |= self.engine().reads(self.base / layer.file)
            self._reads[scenario.id] = reads
        return self._reads[scenario.id]

    def warm(self, scenario: Scenario) -> None:
        self.schema(scenario.schema)
        for layer in scenario.schematron:
            self.schematron(layer.file)


class Schema:
    name = "schema"

    def __init__(self, rules: Rules, stand_ins: bool) -> None:
        self.rules = rules
        self.stand_ins = stand_ins

    def run(self, run: Run) -> None:
        assert run.tree is not None and run.scenario is not None
        run.leaves = LargeLeaves(run.tree, len(run.data) if self.stand_ins else 0)
        if XSD not in run.delegated:
            record(run, "xsd", self.check(run))

    def check(self, run: Run) -> list[RawFinding]:
        assert run.tree is not None and run.scenario is not None
        return self.rules.schema(run.scenario.schema).check(run.tree, run.leaves)


class Schematron:
    """Every Schematron layer of the scenario, in order, on one parse of the document.

    Its time is split into ``schematron-parse`` and ``schematron-<source>`` per layer. The
    gateway's own scenarios run every layer even when the XSD fails, so the report is complete;
    KoSIT skips Schematron after an XSD failure (``after_invalid_schema=False``)."""

    name = "schematron"

    def __init__(self, rules: Rules, stand_ins: bool, after_invalid_schema: bool = True) -> None:
        self.rules = rules
        self.stand_ins = stand_ins
        self.after_invalid_schema = after_invalid_schema

    def run(self, run: Run) -> None:
        scenario = run.scenario
        assert scenario is not None
        if not self.after_invalid_schema and any(
            raws for src, raws in run.layer_output if src == "xsd"
        ):
            return
        own = [i for i in range(len(scenario.schematron)) if i + 1 not in run.delegated]
        for source, raws in self.check(run, own):
            record(run, source, raws)

    def check(self, run: Run, layers: list[int]) -> Iterator[tuple[str, list[RawFinding]]]:
        """(source, findings) of the scenario's layers ``layers`` (indexes), in that order,
        on one Saxon parse; each layer's time is a lap of its own."""
        scenario, tree = run.scenario, run.tree
        assert scenario is not None and tree is not None
        if not layers:
            return
        reads = self.rules.reads(scenario) if self.stand_ins else None
        text = saxon_text(run.data, tree, reads, run.leaves)
        parsed = run.extra.get("saxon-document")  # (text, node) when a step parsed it already
        node = parsed[1] if parsed and parsed[0] == text else self.rules.engine().parse(text)
        run.lap("schematron-parse")
        for i in layers:
            layer = scenario.schematron[i]
            try:
                raws = self.rules.schematron(layer.file).check(node, tree)
            except Exception as exc:  # a dynamic error in published rules must not hide the rest
                raws = [RawFinding("SCHEMATRON-PROCESSING", "fatal", None, f"{layer.file}: {exc}")]
            yield layer.source, raws
            run.lap(f"schematron-{layer.source}")


def record(run: Run, source: str, raws: list[RawFinding]) -> None:
    """One layer's findings into the run (in layer order: xsd, then the Schematron layers)."""
    assert run.scenario is not None
    run.layer_output.append((source, raws))
    run.findings += [finding(raw, source, run.scenario) for raw in raws]


class Report:
    """The gateway's report: findings with source lines, the scenario, artefact versions;
    at most ``max_findings()`` findings listed (0 = all), the rest counted."""

    name = "report"

    def __init__(
        self,
        versions: Callable[[Scenario], dict[str, str]],
        max_findings: Callable[[], int] = lambda: 0,
    ) -> None:
        self.versions = versions
        self.max_findings = max_findings

    def run(self, run: Run) -> None:
        scenario, tree = run.scenario, run.tree
        assert scenario is not None and tree is not None
        listed = capped(run.findings, self.max_findings())
        add_lines(tree, listed)
        run.report = ValidationReport(
            status="rejected",  # until the acceptance step says otherwise
            scenario=scenario.id,
            scenario_name=scenario.name,
            findings=listed,
            artefacts=self.versions(scenario),
            timings=run.timings,
            document=run.info.to_dict() if run.info is not None else None,
            findings_omitted=len(run.findings) - len(listed),
        )


class Acceptance:
    """Accepted unless a finding is ``fatal`` or ``error`` after the scenario's overrides."""

    name = "acceptance"

    def run(self, run: Run) -> None:
        assert run.report is not None
        blocked = any(f.severity in BLOCKING for f in run.findings)
        run.report.status = "rejected" if blocked else "accepted"


def refusal(refused: XmlRefused) -> ValidationReport:
    return ValidationReport(
        status=refused.code,
        reason=refused.message,
        findings=[
            Finding(
                rule=refused.code,
                severity="fatal",
                location=None,
                message=refused.message,
                source="parser",
                line=refused.line,
                column=refused.column,
            )
        ],
    )


def finding(raw: RawFinding, source: str, scenario: Scenario) -> Finding:
    override = scenario.severity.get(raw.rule)
    return Finding(
        rule=raw.rule,
        severity=override or raw.severity,
        original_severity=raw.severity if override and override != raw.severity else None,
        location=raw.location,
        message=raw.message,
        source=source,
        line=raw.line,
        column=raw.column,
        test=raw.test,
    )


def capped(findings: list[Finding], cap: int) -> list[Finding]:
    """The first ``cap`` findings (all with 0), errors before warnings, in report order.

    Why a cap: a hostile document can carry one finding per element (50,000 empty notes make
    a 10 MB report); the report says how many more there were. Errors are kept first so the
    reason a document was rejected is always listed; the acceptance step sees them all."""
    if not cap or len(findings) <= cap:
        return findings
    blocking = [i for i, f in enumerate(findings) if f.blocking]
    other = [i for i, f in enumerate(findings) if not f.blocking]
    return [findings[i] for i in sorted((blocking + other)[:cap])]


def add_lines(tree: etree._ElementTree, findings: list[Finding]) -> None:
    """Give Schematron findings the source line of their location (SVRL has only XPath), in
    one pass per parent however many findings there are (:class:`.speedups.Locator`)."""
    locator = Locator(tree)
    for f in findings:
        if f.line is None and f.location and f.location.startswith("/"):
            f.line = locator.line(f.location)
