"""Validation off the event loop: engines in worker processes, an async facade in front.

Why processes: Saxon and libxml2 hold the GIL while they work, so threads would serialise;
a process per core validates in parallel. Workers are started with ``spawn`` (never ``fork``:
the server process has threads and an event loop that must not be cloned), build their engine
once, and keep compiled XSD/XSLT for their whole life.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.artefacts import installed_info
from gateway.documents import ParseLimits
from gateway.validation.engine import ArtefactsMissing, Engine, UnknownScenario
from gateway.validation.report import ValidationReport
from gateway.validation.scenarios import Scenario, load_scenarios

if TYPE_CHECKING:
    from gateway.config import Settings

_ENGINE: Engine | None = None


def _init_worker(artefacts_dir: str, limits: ParseLimits, warm: bool) -> None:
    global _ENGINE
    _ENGINE = Engine(Path(artefacts_dir), limits=limits)
    if warm:
        _ENGINE.warm()


def _validate_in_worker(data: bytes, scenario: str | None) -> dict[str, Any]:
    assert _ENGINE is not None, "worker not initialised"
    return _ENGINE.validate(data, scenario).to_dict()


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
        self.scenarios: list[Scenario] = load_scenarios()
        self._ids = {s.id for s in self.scenarios}
        self._executor = self._start()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Validator:
        limits = ParseLimits(
            max_bytes=settings.validation.max_bytes, max_depth=settings.validation.max_depth
        )
        return cls(settings.artefacts_dir, jobs=settings.validation.jobs, limits=limits, **kwargs)

    def _start(self) -> Executor:
        initargs = (str(self.artefacts_dir), self.limits, self.warm)
        if self.jobs <= 0:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate")
            executor.submit(_init_worker, *initargs).result()
            return executor
        return ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=initargs,
        )

    def _check_scenario(self, scenario: str | None) -> None:
        if scenario is not None and scenario not in self._ids:
            raise UnknownScenario(
                f"unknown scenario {scenario!r}; known: {', '.join(sorted(self._ids))}"
            )

    async def validate(self, data: bytes, scenario: str | None = None) -> ValidationReport:
        self._check_scenario(scenario)
        loop = asyncio.get_running_loop()
        try:
            raw = await loop.run_in_executor(self._executor, _validate_in_worker, data, scenario)
        except BrokenProcessPool:
            # A worker died (OOM, crash in native code). Start a fresh pool and try once more,
            # so one poisonous document cannot take validation down for everyone.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._start()
            raw = await loop.run_in_executor(self._executor, _validate_in_worker, data, scenario)
        return ValidationReport.from_dict(raw)

    def validate_sync(self, data: bytes, scenario: str | None = None) -> ValidationReport:
        self._check_scenario(scenario)
        return ValidationReport.from_dict(
            self._executor.submit(_validate_in_worker, data, scenario).result()
        )

    def map(self, items: list[tuple[bytes, str | None]]) -> list[ValidationReport]:
        """Validate many documents using every worker; results in input order."""
        for _, scenario in items:
            self._check_scenario(scenario)
        futures = [self._executor.submit(_validate_in_worker, d, s) for d, s in items]
        return [ValidationReport.from_dict(f.result()) for f in futures]

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
