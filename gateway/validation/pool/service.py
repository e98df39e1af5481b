"""Validation off the event loop: engines in worker processes, an async facade in front.

Why processes: Saxon and libxml2 hold the GIL while they work, so threads would serialise;
a process per core validates in parallel (see :mod:`.workers`). ``jobs=0`` validates in this
process on one long-lived thread instead (:mod:`.thread`; small setups and tests).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.artefacts import installed_info
from gateway.documents import ParseLimits
from gateway.validation.engine import ArtefactsMissing, Engine, UnknownScenario
from gateway.validation.pool.thread import ValidationThread
from gateway.validation.pool.workers import ProcessWorkers, WorkersBroken, make_engine
from gateway.validation.report import ValidationReport
from gateway.validation.scenarios import Scenario, load_scenarios

if TYPE_CHECKING:
    from gateway.config import Settings


class Validator:
    """Async validation service shared by every channel.

    ``jobs`` worker processes (0 = one in-process engine on a helper thread, for small setups
    and tests). ``validate`` never raises for bad input: refusals are reports too.
    """

    def __init__(
        self,
        artefacts_dir: Path,
        *,
        jobs: int = 2,
        limits: ParseLimits | None = None,
        warm: bool = True,
        stand_ins: bool = True,
    ) -> None:
        self.artefacts_dir = Path(artefacts_dir)
        if installed_info(self.artefacts_dir) is None:
            raise ArtefactsMissing(
                f"no validation artefacts installed in {self.artefacts_dir}; run "
                "'gateway artefacts install --from SOURCE'"
            )
        self.jobs = jobs
        self.limits = limits or ParseLimits()
        self.warm = warm
        self.stand_ins = stand_ins
        self.scenarios: list[Scenario] = load_scenarios()
        self._ids = {s.id for s in self.scenarios}
        self._engine: Engine | None = None
        self._workers: ProcessWorkers | None = None
        self._start()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Validator:
        limits = ParseLimits(
            max_bytes=settings.validation.max_bytes, max_depth=settings.validation.max_depth
        )
        kwargs.setdefault("stand_ins", settings.validation.stand_ins)
        return cls(settings.artefacts_dir, jobs=settings.validation.jobs, limits=limits, **kwargs)

    def _start(self) -> None:
        initargs = (str(self.artefacts_dir), self.limits, self.warm, self.stand_ins)
        if self.jobs <= 0:
            self._engine = ValidationThread.shared().submit(make_engine, *initargs).result()
        else:
            self._workers = ProcessWorkers(self.jobs, initargs)

    def _check_scenario(self, scenario: str | None) -> None:
        if scenario is not None and scenario not in self._ids:
            raise UnknownScenario(
                f"unknown scenario {scenario!r}; known: {', '.join(sorted(self._ids))}"
            )

    async def validate(self, data: bytes, scenario: str | None = None) -> ValidationReport:
        self._check_scenario(scenario)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wrap_future(self._submit(data, scenario), loop=loop)
        except WorkersBroken:
            # A worker died (OOM, crash in native code); a fresh one takes its place. Try once
            # more, so one poisonous document cannot take validation down for everyone.
            return await asyncio.wrap_future(self._submit(data, scenario), loop=loop)

    def _submit(self, data: bytes, scenario: str | None) -> Future[ValidationReport]:
        if self._workers is not None:
            return self._workers.submit(data, scenario)
        assert self._engine is not None
        return ValidationThread.shared().submit(self._engine.validate, data, scenario)

    def validate_sync(self, data: bytes, scenario: str | None = None) -> ValidationReport:
        self._check_scenario(scenario)
        return self._submit(data, scenario).result()

    def map(self, items: list[tuple[bytes, str | None]]) -> list[ValidationReport]:
        """Validate many documents using every worker; results in input order."""
        for _, scenario in items:
            self._check_scenario(scenario)
        futures = [self._submit(d, s) for d, s in items]
        return [f.result() for f in futures]

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        if self._workers is not None:
            self._workers.shutdown()

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
