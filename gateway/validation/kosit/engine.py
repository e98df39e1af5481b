"""A KoSIT configuration through the gateway's pipeline: same loop, same rule layers."""

from __future__ import annotations

from pathlib import Path

from gateway.documents import ParseLimits
from gateway.validation import steps
from gateway.validation.engine import Pipeline
from gateway.validation.kosit import steps as kosit_steps
from gateway.validation.kosit.config import KositConfig, load_config
from gateway.validation.saxon import SaxonRuntime
from gateway.validation.scenarios import USE_KOSIT, Scenario
from gateway.validation.schematron import SchematronEngine


class KositEngine(Pipeline):
    """parse -> identify -> select (``match``) -> schema -> schematron -> report
    (``createReportInput`` -> report stylesheet) -> acceptance (``acceptMatch``)."""

    def __init__(
        self,
        config: KositConfig | Path,
        limits: ParseLimits | None = None,
        stand_ins: bool = True,
    ) -> None:
        self.config = config if isinstance(config, KositConfig) else load_config(Path(config))
        self.scenarios = [k.scenario for k in self.config.scenarios]
        self.by_id = {s.id: s for s in self.scenarios}
        self.limits = limits or ParseLimits()
        self.rules = steps.Rules(self.config.repository, self._saxon_runtime)
        self.kosit = kosit_steps.Kosit(self.config, self._saxon_runtime)
        self.steps = (
            kosit_steps.Parse(self.kosit, self.limits),
            steps.Identify(),
            kosit_steps.Select(self.kosit),
            steps.Schema(self.rules, stand_ins),
            steps.Schematron(self.rules, stand_ins, after_invalid_schema=False),
            kosit_steps.Report(self.kosit, steps.Report(self._versions)),
            kosit_steps.Acceptance(self.kosit),
        )

    @staticmethod
    def _saxon_runtime() -> SchematronEngine:
        return SaxonRuntime.shared()

    def _versions(self, scenario: Scenario) -> dict[str, str]:
        return {"kosit-config": self.config.name}

    def warm(self, scenario_ids: list[str] | None = None) -> None:
        super().warm(scenario_ids)
        self.kosit.warm()


class WithKosit(Pipeline):
    """The gateway's own engine and a KoSIT one in one worker (``gateway serve`` with
    ``[validation] kosit_config``): ``scenario="kosit"`` (:data:`USE_KOSIT`) or a KoSIT
    scenario id goes to the KoSIT configuration, anything else to the gateway's scenarios."""

    def __init__(self, own: Pipeline, kosit: KositEngine) -> None:
        self.own, self.kosit_engine = own, kosit
        self.scenarios = [*own.scenarios, *kosit.scenarios]
        self.by_id = {**own.by_id, **kosit.by_id}

    def warm(self, scenario_ids: list[str] | None = None) -> None:
        self.own.warm()
        self.kosit_engine.warm()

    def validate(self, data: bytes, scenario_id: str | None = None, name: str = ""):  # type: ignore[no-untyped-def]
        if scenario_id == USE_KOSIT:
            return self.kosit_engine.validate(data, None, name)
        if scenario_id in self.kosit_engine.by_id:
            return self.kosit_engine.validate(data, scenario_id, name)
        return self.own.validate(data, scenario_id, name)
