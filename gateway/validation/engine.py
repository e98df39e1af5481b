"""The validation pipeline: parse -> identify -> select scenario -> schema -> schematron ->
report -> acceptance, as small named steps (the KoSIT validator's shape).

An :class:`Engine` lives in one process and is not thread-safe; :mod:`gateway.validation.pool`
runs engines in worker processes for the async server and for ``--jobs N``.
"""

from __future__ import annotations

import time
from pathlib import Path

from lxml import etree

from gateway.artefacts import installed_info
from gateway.documents import DocumentInfo, ParseLimits, XmlRefused, identify, parse_xml
from gateway.validation.compiling import compiling
from gateway.validation.layers import RawFinding, SaxonRuntime, SchemaLayer, SchematronLayer
from gateway.validation.locations import Locator
from gateway.validation.reads import Reads
from gateway.validation.report import BLOCKING, Finding, ValidationReport
from gateway.validation.scenarios import Scenario, load_scenarios, select
from gateway.validation.standin import LargeLeaves, saxon_text


class ArtefactsMissing(RuntimeError):
    """No artefacts installed: the operator must run ``gateway artefacts install`` first."""


class UnknownScenario(ValueError):
    pass


class Engine:
    def __init__(
        self,
        artefacts_dir: Path,
        scenarios: list[Scenario] | None = None,
        limits: ParseLimits | None = None,
        stand_ins: bool = True,
        max_findings: int = 0,
    ) -> None:
        self.artefacts_dir = Path(artefacts_dir)
        info = installed_info(self.artefacts_dir)
        if info is None:
            raise ArtefactsMissing(
                f"no validation artefacts installed in {self.artefacts_dir}; run "
                "'gateway artefacts install --from SOURCE' (e.g. a folder like shared/artefacts)"
            )
        self.versions = {b["id"]: b["version"] for b in info["bundles"]}
        self.scenarios = scenarios if scenarios is not None else load_scenarios()
        self.by_id = {s.id: s for s in self.scenarios}
        self.limits = limits or ParseLimits()
        self._schemas: dict[str, SchemaLayer] = {}
        self._xslts: dict[str, SchematronLayer] = {}
        self._reads_by_scenario: dict[str, Reads] = {}
        self.stand_ins = stand_ins  # see gateway.validation.standin
        #: Findings listed per report (0 = all); the rest are only counted (findings_omitted).
        self.max_findings = max_findings

    # -- artefact caches -----------------------------------------------------------------
    def _schema(self, rel: str) -> SchemaLayer:
        if rel not in self._schemas:
            with compiling():
                self._schemas[rel] = SchemaLayer(self.artefacts_dir / rel)
        return self._schemas[rel]

    @staticmethod
    def _saxon_runtime() -> SaxonRuntime:
        return SaxonRuntime.shared()

    def _schematron(self, rel: str) -> SchematronLayer:
        if rel not in self._xslts:
            with compiling():
                self._xslts[rel] = self._saxon_runtime().compile(self.artefacts_dir / rel)
        return self._xslts[rel]

    def reads(self, scenario: Scenario) -> Reads:
        """What any of the scenario's stylesheets can read (computed on first need)."""
        if scenario.id not in self._reads_by_scenario:
            reads = Reads(frozenset())
            with compiling():
                for layer in scenario.schematron:
                    reads |= self._schematron(layer.file).reads
            self._reads_by_scenario[scenario.id] = reads
        return self._reads_by_scenario[scenario.id]

    def scenario(self, scenario_id: str) -> Scenario:
        try:
            return self.by_id[scenario_id]
        except KeyError:
            raise UnknownScenario(
                f"unknown scenario {scenario_id!r}; known: {', '.join(self.by_id)}"
            ) from None

    def warm(self, scenario_ids: list[str] | None = None) -> None:
        """Compile everything up front so the first document is not slow."""
        for sid in scenario_ids or list(self.by_id):
            s = self.scenario(sid)
            self._schema(s.schema)
            for layer in s.schematron:
                self._schematron(layer.file)

    # -- the pipeline ----------------------------------------------------------------------
    def validate(self, data: bytes, scenario_id: str | None = None) -> ValidationReport:
        forced = self.scenario(scenario_id) if scenario_id else None
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        start = clock

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[step] = round((now - clock) * 1000, 3)
            clock = now

        try:
            tree = parse_xml(data, self.limits)
        except XmlRefused as refused:
            return _refusal(refused)
        lap("parse")
        info = identify(tree)
        lap("identify")
        scenario = forced or select(self.scenarios, info)
        lap("select")
        if scenario is None:
            return ValidationReport(
                status="no-scenario",
                document=info.to_dict(),
                timings=timings,
                reason=_why_none(info),
            )
        leaves = LargeLeaves(tree, len(data) if self.stand_ins else 0)
        findings = [
            _finding(raw, "xsd", scenario)
            for raw in self._schema(scenario.schema).check(tree, leaves)
        ]
        lap("schema")
        reads = self.reads(scenario) if self.stand_ins else None
        node = self._saxon_runtime().parse(saxon_text(data, tree, reads, leaves))
        lap("schematron-parse")
        for layer in scenario.schematron:
            try:
                raws = self._schematron(layer.file).check(node, tree)
            except Exception as exc:  # a dynamic error in published rules must not hide the rest
                raws = [RawFinding("SCHEMATRON-PROCESSING", "fatal", None, f"{layer.file}: {exc}")]
            findings += [_finding(raw, layer.source, scenario) for raw in raws]
            lap(f"schematron-{layer.source}")
        accepted = not any(f.severity in BLOCKING for f in findings)
        omitted = len(findings) - self.max_findings if self.max_findings else 0
        if omitted > 0:
            findings = _capped(findings, self.max_findings)
        _add_lines(tree, findings)
        timings["total"] = round((time.perf_counter() - start) * 1000, 3)
        return ValidationReport(
            status="accepted" if accepted else "rejected",
            scenario=scenario.id,
            scenario_name=scenario.name,
            findings=findings,
            artefacts={b: self.versions.get(b, "?") for b in scenario.artefact_bundles},
            timings=timings,
            document=info.to_dict(),
            findings_omitted=max(0, omitted),
        )


def _capped(findings: list[Finding], cap: int) -> list[Finding]:
    """The first ``cap`` findings, errors before warnings, in report order.

    Why a cap: a hostile document can carry one finding per element (50,000 empty notes make a
    10 MB report); the report says how many more there were. Errors are kept first so the
    reason a document was rejected is always listed."""
    blocking = [i for i, f in enumerate(findings) if f.blocking]
    other = [i for i, f in enumerate(findings) if not f.blocking]
    keep = sorted((blocking + other)[:cap])
    return [findings[i] for i in keep]


def _refusal(refused: XmlRefused) -> ValidationReport:
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


def _why_none(info: DocumentInfo) -> str:
    root = f"{{{info.root_namespace}}}{info.root_name}" if info.root_namespace else info.root_name
    if info.syntax == "unknown":
        return f"not a supported e-invoice syntax (root element {root})"
    return (
        f"no validation scenario for a {info.doc_type} with CustomizationID "
        f"{info.customization_id!r}"
        + (f" and ProfileID {info.profile_id!r}" if info.profile_id else "")
    )


def _finding(raw: RawFinding, source: str, scenario: Scenario) -> Finding:
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


def _add_lines(tree: etree._ElementTree, findings: list[Finding]) -> None:
    """Give Schematron findings the source line of their location (SVRL has only XPath)."""
    locator = Locator(tree)
    for f in findings:
        if f.line is None and f.location and f.location.startswith("/"):
            f.line = locator.line(f.location)
