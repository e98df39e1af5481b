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
from gateway.documents import ParseLimits, XmlRefused, identify, parse_xml
from gateway.validation.engine import ArtefactsMissing, Pipeline, UnknownScenario
from gateway.validation.pool.process import make_engine
from gateway.validation.pool.thread import ValidationThread
from gateway.validation.pool.workers import (
    Bounds,
    ProcessWorkers,
    ValidationTimeout,
    WorkersBroken,
)
from gateway.validation.report import Finding, ValidationReport
from gateway.validation.scenarios import USE_KOSIT, Scenario, load_scenarios

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
        warm: bool | list[str] = True,
        stand_ins: bool = True,
        kosit_config: Path | None = None,
        kosit_repository: Path | None = None,
        kosit_tenants: list[str] | None = None,
        bounds: Bounds | None = None,
        max_findings: int = 0,
        batch: bool = False,
        lazy: bool = False,
    ) -> None:
        """With ``kosit_config`` and no ``kosit_tenants``, every document is validated with
        that KoSIT configuration instead of the gateway's scenarios (the CLI, the daemon); with
        ``kosit_tenants`` (empty = all tenants) the workers hold both, and those tenants'
        documents get KoSIT's (``gateway serve``). ``warm``: compile every scenario when a
        worker starts (True), none (False: each on its first document), or those listed.
        ``batch``: all the work is queued up front (``gateway validate FILE...``), so a worker
        may wait for the one that has compiled a document's rules (see ProcessWorkers).
        ``lazy``: start each worker process only when a document waits for it."""
        self.artefacts_dir = Path(artefacts_dir)
        self.kosit_tenants = kosit_tenants
        self.kosit = (
            (
                str(kosit_config),
                str(kosit_repository) if kosit_repository else None,
                kosit_tenants is None,
            )
            if kosit_config is not None
            else None
        )
        if (self.kosit is None or not self.kosit[2]) and installed_info(self.artefacts_dir) is None:
            raise ArtefactsMissing(
                f"no validation artefacts installed in {self.artefacts_dir}; run "
                "'gateway artefacts install --from SOURCE'"
            )
        self.jobs = jobs
        self.limits = limits or ParseLimits()
        self.warm = warm
        self.stand_ins = stand_ins
        self._bounds = bounds or Bounds()
        self.max_findings = max_findings
        self.batch = batch
        self.lazy = lazy
        self.scenarios: list[Scenario] = [] if self.kosit and self.kosit[2] else load_scenarios()
        self._ids = {s.id for s in self.scenarios}
        if isinstance(warm, list) and (unknown := set(warm) - self._ids):
            raise UnknownScenario(f"cannot warm unknown scenarios {sorted(unknown)}")
        self._engine: Pipeline | None = None
        self._workers: ProcessWorkers | None = None
        self._start()

    @property
    def bounds(self) -> Bounds:
        """Per-document limits; a change applies to the next document."""
        return self._bounds

    @bounds.setter
    def bounds(self, value: Bounds) -> None:
        self._bounds = value
        if self._workers is not None:
            self._workers.bounds = value

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Validator:
        limits = ParseLimits(
            max_bytes=settings.validation.max_bytes, max_depth=settings.validation.max_depth
        )
        v = settings.validation
        kwargs.setdefault("stand_ins", v.stand_ins)
        kwargs.setdefault("max_findings", v.max_findings)
        kwargs.setdefault("warm", True if v.warm == ["*"] else list(v.warm))
        # Nothing to compile up front: a worker starts when there is a document for it.
        kwargs.setdefault("lazy", not v.warm)
        kwargs.setdefault(
            "bounds",
            Bounds(
                timeout=v.timeout,
                timeout_per_mb=v.timeout_per_mb,
                cancel_after=v.cancel_after,
                max_rss_mib=v.max_worker_rss_mib,
                growth_mib=v.worker_rss_growth_mib,
                floor_mib=v.worker_rss_floor_mib,
                heavy_tags=v.heavy_tags,
            ),
        )
        if settings.validation.kosit_config:
            kwargs.setdefault("kosit_config", settings.kosit_config_path)
            kwargs.setdefault("kosit_tenants", list(settings.validation.kosit_tenants))
        return cls(settings.artefacts_dir, jobs=settings.validation.jobs, limits=limits, **kwargs)

    def _start(self) -> None:
        initargs = (
            str(self.artefacts_dir),
            self.limits,
            self.warm,
            self.stand_ins,
            self.kosit,
            self.max_findings,
        )
        if self.jobs <= 0:
            self._engine = ValidationThread.shared().submit(make_engine, *initargs).result()
        else:
            self._workers = ProcessWorkers(
                self.jobs, initargs, self._bounds, batch=self.batch, lazy=self.lazy
            )

    def _check_scenario(self, scenario: str | None) -> None:
        if scenario is not None and scenario not in self._ids and not self.kosit:
            raise UnknownScenario(
                f"unknown scenario {scenario!r}; known: {', '.join(sorted(self._ids))}"
            )

    async def validate(
        self,
        data: bytes,
        scenario: str | None = None,
        name: str = "",
        tenant: str | None = None,
        *,
        key: str = "default",
    ) -> ValidationReport:
        """``name`` is the input's name where reports carry one (KoSIT's document reference);
        ``tenant`` picks the KoSIT configuration for the tenants configured to use it; ``key``
        names the sender for the fair queue (the intake passes ``channel:tenant``). Cancelling
        the awaiting task cancels the request: it leaves the queue, or its worker is stopped."""
        self._check_scenario(scenario)
        scenario = self._for_tenant(scenario, tenant)
        loop = asyncio.get_running_loop()
        try:
            try:
                return await asyncio.wrap_future(self._submit(data, scenario, name, key), loop=loop)
            except WorkersBroken:
                # A worker died (OOM, crash in native code); a fresh one takes its place. Try
                # once more, so one poisonous document cannot take validation down for everyone.
                return await asyncio.wrap_future(self._submit(data, scenario, name, key), loop=loop)
        except ValidationTimeout as timeout:
            return await asyncio.to_thread(timeout_report, data, timeout, self.limits)

    def _submit(
        self, data: bytes, scenario: str | None, name: str = "", key: str = "default"
    ) -> Future[ValidationReport]:
        if self._workers is not None:
            return self._workers.submit(data, scenario, name, key)
        assert self._engine is not None
        return ValidationThread.shared().submit(self._engine.validate, data, scenario, name)

    def _for_tenant(self, scenario: str | None, tenant: str | None) -> str | None:
        wants = self.kosit_tenants is not None and (
            not self.kosit_tenants or tenant in self.kosit_tenants
        )
        return USE_KOSIT if scenario is None and self.kosit is not None and wants else scenario

    def validate_sync(
        self, data: bytes, scenario: str | None = None, tenant: str | None = None
    ) -> ValidationReport:
        self._check_scenario(scenario)
        try:
            return self._submit(data, self._for_tenant(scenario, tenant)).result()
        except ValidationTimeout as timeout:
            return timeout_report(data, timeout, self.limits)

    def map(
        self, items: list[tuple[bytes, str | None]], names: list[str] | None = None
    ) -> list[ValidationReport]:
        """Validate many documents using every worker; results in input order."""
        for _, scenario in items:
            self._check_scenario(scenario)
        names = names or [""] * len(items)
        futures = [self._submit(d, s, n) for (d, s), n in zip(items, names, strict=True)]
        out = []
        for (data, _), future in zip(items, futures, strict=True):
            try:
                out.append(future.result())
            except ValidationTimeout as timeout:
                out.append(timeout_report(data, timeout, self.limits))
        return out

    def health(self) -> dict[str, Any]:
        """Worker states, queue length and age (``/health``); in-process mode has none."""
        if self._workers is None:
            return {"workers": [], "mode": "in-process", "queued": 0, "oldest_queued_seconds": 0}
        return {"mode": "processes", **self._workers.health()}

    def pids(self) -> list[int]:
        """The worker processes' ids (none in-process)."""
        return self._workers.pids() if self._workers is not None else []

    def alive(self) -> bool:
        """Every worker process is running (in-process: always)."""
        return self._workers.alive() if self._workers is not None else True

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        if self._workers is not None:
            self._workers.shutdown()

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def timeout_report(
    data: bytes, timeout: ValidationTimeout, limits: ParseLimits
) -> ValidationReport:
    """The ``validation-timeout`` report. The document is identified here (parsing and
    identification are linear and cheap; it is the rules that ran out of time), so channels
    can still route it to its tenant and find duplicates of it."""
    message = (
        f"validation did not finish within {timeout.limit:.1f} s (the limit for a document of "
        f"{len(data) / 1_000_000:.2f} MB), so the document was not validated"
    )
    try:
        info = identify(parse_xml(data, limits)).to_dict()
    except XmlRefused:
        info = None
    return ValidationReport(
        status="validation-timeout",
        reason=message,
        document=info,
        findings=[
            Finding(
                rule="VALIDATION-TIMEOUT",
                severity="fatal",
                location=None,
                message=message,
                source="gateway",
            )
        ],
    )


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
