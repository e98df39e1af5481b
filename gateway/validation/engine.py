"""The validation engine: one loop over the pipeline's named steps, timing each.

parse (of a Factur-X PDF: of its XML) -> identify -> select -> schema -> schematron -> report
-> acceptance (:mod:`.steps`),
the KoSIT validator's shape. An :class:`Engine` lives in one process and is not thread-safe;
:mod:`gateway.validation.pool` runs engines in worker processes for the async server and for
``--jobs N``.
"""

from __future__ import annotations

import time
from pathlib import Path

from gateway.artefacts import installed_info
from gateway.documents import DocumentInfo, ParseLimits
from gateway.validation import ahead, steps
from gateway.validation.report import ValidationReport
from gateway.validation.saxon import SaxonRuntime
from gateway.validation.scenarios import Scenario, load_scenarios, select
from gateway.validation.schematron import SchematronEngine
from gateway.validation.speedups import Reads, use_folder

#: ``Engine(cache_dir=DEFAULT_CACHE)``: ``cache/validation`` beside the artefacts, in the data dir.
DEFAULT_CACHE = Path("<data dir>/cache/validation")


class ArtefactsMissing(RuntimeError):
    """No artefacts installed: the operator must run ``gateway artefacts install`` first."""


class UnknownScenario(ValueError):
    pass


def run_steps(pipeline: tuple[steps.Step, ...], run: steps.Run) -> ValidationReport:
    """The one loop: each step in turn, timed under its name unless it split its own time."""
    for step in pipeline:
        laps = len(run.timings)
        step.run(run)
        if len(run.timings) == laps:
            run.lap(step.name)
        if run.finished:
            break
    assert run.report is not None, "the pipeline ended without a report"
    run.timings["total"] = round((time.perf_counter() - run.started) * 1000, 3)
    return run.report


class Pipeline:
    """What every engine has: its scenarios, their compiled rules and the steps it runs."""

    scenarios: list[Scenario]
    by_id: dict[str, Scenario]
    rules: steps.Rules
    steps: tuple[steps.Step, ...]

    def scenario(self, scenario_id: str) -> Scenario:
        try:
            return self.by_id[scenario_id]
        except KeyError:
            raise UnknownScenario(
                f"unknown scenario {scenario_id!r}; known: {', '.join(self.by_id)}"
            ) from None

    def warm(self, scenario_ids: list[str] | None = None) -> None:
        """Compile everything up front so the first document is not slow (all scenarios but
        those marked ``warm = false``, unless ``scenario_ids`` names them)."""
        for sid in scenario_ids or [s.id for s in self.scenarios if s.warm]:
            self.rules.warm(self.scenario(sid))

    def validate(
        self, data: bytes, scenario_id: str | None = None, name: str = ""
    ) -> ValidationReport:
        forced = self.scenario(scenario_id) if scenario_id else None
        return run_steps(self.steps, steps.Run(data, forced, name))


class Engine(Pipeline):
    """The gateway's own scenarios (``validation-rules/scenarios.toml``) over installed artefacts."""

    def __init__(
        self,
        artefacts_dir: Path,
        scenarios: list[Scenario] | None = None,
        limits: ParseLimits | None = None,
        stand_ins: bool = True,
        max_findings: int = 0,
        cache_dir: Path | None = DEFAULT_CACHE,
        one_shot: bool = False,
    ) -> None:
        """``one_shot``: this engine validates one document in this process and nothing else
        (``gateway validate FILE``), so its XSD and later layers may run in a forked child
        beside the first layer (:mod:`.ahead`)."""
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
        self.stand_ins = stand_ins  # see gateway.validation.speedups.standin
        #: Findings listed per report (0 = all); the rest are only counted (findings_omitted).
        self.max_findings = max_findings
        # Prepared stylesheets and their analyses survive the process (None: memory only).
        if cache_dir is DEFAULT_CACHE:
            cache_dir = self.artefacts_dir.parent / "cache" / "validation"
        use_folder(cache_dir)
        self.rules = steps.Rules(self.artefacts_dir, self._saxon_runtime)
        schema, schematron = (
            steps.Schema(self.rules, stand_ins),
            steps.Schematron(self.rules, stand_ins),
        )
        layers: tuple[steps.Step, ...] = (schema, schematron)
        if one_shot:
            layers = (
                ahead.Ahead(schema, schematron, lambda: not SaxonRuntime.started()),
                *layers,
                ahead.Join(schema, schematron),
            )
        self.steps: tuple[steps.Step, ...] = (
            steps.Parse(self.limits),
            steps.Identify(),
            steps.Select(
                lambda _tree, info: select(self.scenarios, info),
                _no_scenario,
                lambda container, info: select(self.scenarios, info, container),
            ),
            *layers,
            steps.Report(self._versions, lambda: self.max_findings),
            steps.Acceptance(),
        )

    @staticmethod
    def _saxon_runtime() -> SchematronEngine:
        return SaxonRuntime.shared()

    def _versions(self, scenario: Scenario) -> dict[str, str]:
        return {b: self.versions.get(b, "?") for b in scenario.artefact_bundles}

    def reads(self, scenario: Scenario) -> Reads:
        """What any of the scenario's stylesheets can read (computed on first need)."""
        return self.rules.reads(scenario)


def _no_scenario(run: steps.Run) -> ValidationReport:
    assert run.info is not None
    return ValidationReport(
        status="no-scenario",
        document=run.info.to_dict(),
        timings=run.timings,
        reason=_why_none(run.info),
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
