"""Bounded validation on real worker processes: deadline, fair lane, caller gone, memory,
findings cap (issue 14 item 1, issue 18 item 7). Payloads from :mod:`tests.validation.payloads`.

One pool of two workers for the module (each test sets the bounds it exercises), started
cold (``warm=False``) and warmed once; compile time never counts against a deadline
(``validation.compiling``). Timing asserts have wide margins: the machine is shared.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from gateway.validation import Engine, Validator
from gateway.validation.pool import Bounds
from gateway.validation.pool.fairqueue import FairQueue, Job
from tests.validation import payloads
from tests.validation.payloads import warm_up
from tests.waiting import until

HOSTILE = payloads.HOSTILE


@pytest.fixture(scope="module")
def pool(installed_data_dir: Path) -> Iterator[Validator]:
    validator = Validator(installed_data_dir / "artefacts", jobs=2, warm=False)
    warm_up(validator)  # both workers compile the scenario
    yield validator
    validator.close()


async def _ready(validator: Validator) -> None:
    """Both workers up and warm (a test may have killed one: its replacement starts cold, and
    compiling is never charged to a document) and nothing left over."""
    await asyncio.to_thread(warm_up, validator)
    await until(lambda: validator.health()["queued"] == 0, 60)


async def test_deadline_kills_the_worker_and_reports_validation_timeout(
    pool: Validator,
) -> None:
    validator = pool
    await _ready(validator)
    before = validator.health()["restarts"]["timeout"]
    validator.bounds = Bounds(timeout=payloads.HOSTILE_DEADLINE, timeout_per_mb=0.0)
    try:
        started = time.monotonic()
        report = await validator.validate(HOSTILE, key="smtp:-")
        elapsed = time.monotonic() - started
        assert report.status == "validation-timeout"
        assert not report.accepted
        assert [f.rule for f in report.findings] == ["VALIDATION-TIMEOUT"]
        assert f"{payloads.HOSTILE_DEADLINE:.1f} s" in (report.reason or "")
        assert report.document and report.document["number"] == "Snippet1"  # still identified
        assert elapsed < payloads.HOSTILE_DEADLINE + 10, (
            elapsed
        )  # killed at the deadline, not after the document
        health = validator.health()
        assert health["restarts"]["timeout"] == before + 1
        assert "starting" in {w["state"] for w in health["workers"]}  # its replacement
        # The pool validates the next document.
        assert (await validator.validate(payloads.base_example())).accepted
    finally:
        validator.bounds = Bounds()


async def test_a_normal_invoice_is_not_stuck_behind_two_hostile_documents(
    pool: Validator,
) -> None:
    validator = pool
    await _ready(validator)
    validator.bounds = Bounds(timeout=300.0, cancel_after=0.2)
    base = payloads.base_example()
    try:
        hostile = [
            asyncio.ensure_future(validator.validate(HOSTILE, key=k))
            for k in ("smtp:-", "api:mallory")
        ]
        await until(lambda: validator.health()["longest_busy_seconds"] > 0, 60)
        started = time.monotonic()
        report = await validator.validate(base, key="api:acme")
        latency = time.monotonic() - started
        assert report.accepted
        # One worker is kept for light documents: the invoice did not wait for either.
        assert not any(h.done() for h in hostile), latency
        assert latency < 10, latency
        health = validator.health()
        assert sorted(w["state"] for w in health["workers"]) in (
            ["busy", "idle"],
            ["busy", "busy"],
        )
        assert health["queued"] in (0, 1)  # the second hostile document waits its turn
        for h in hostile:
            h.cancel()  # their workers are stopped (no need to wait for them)
        await asyncio.sleep(0)
    finally:
        validator.bounds = Bounds()


async def test_a_cancelled_request_stops_its_worker(pool: Validator) -> None:
    validator = pool
    await _ready(validator)
    before = validator.health()["restarts"]["cancelled"]
    validator.bounds = Bounds(timeout=300.0, cancel_after=0.5)
    try:
        task = asyncio.ensure_future(validator.validate(HOSTILE))
        queued = asyncio.ensure_future(validator.validate(HOSTILE))  # heavy: waits its turn
        await until(lambda: validator.health()["longest_busy_seconds"] > 0.1, 60)
        assert validator.health()["queued"] == 1
        task.cancel()
        queued.cancel()  # never started: dropped from the queue
        started = time.monotonic()
        await until(lambda: validator.health()["restarts"]["cancelled"] == before + 1, 30)
        assert time.monotonic() - started < 10
        assert validator.health()["queued"] == 0
        assert (await validator.validate(payloads.base_example())).accepted
        await asyncio.sleep(0.5)
        assert validator.health()["restarts"]["cancelled"] == before + 1  # the queued one never ran
    finally:
        validator.bounds = Bounds()


async def test_a_worker_above_the_memory_bound_is_recycled_between_documents(
    pool: Validator,
) -> None:
    validator = pool
    await _ready(validator)
    before = validator.health()["restarts"]["memory"]
    pids = {w["pid"] for w in validator.health()["workers"]}
    validator.bounds = Bounds(max_rss_mib=1)  # every worker is above 1 MiB
    try:
        report = await validator.validate(payloads.base_example())
    finally:
        validator.bounds = Bounds()
    assert report.accepted  # answered first, then recycled
    await until(lambda: validator.health()["restarts"]["memory"] == before + 1, 60)
    await until(lambda: {w["pid"] for w in validator.health()["workers"]} != pids, 60)
    # The next documents go to the workers that are up, not to the retiring one.
    base = payloads.base_example()
    assert all(r.accepted for r in await asyncio.gather(*(validator.validate(base) for _ in "abc")))


def test_findings_are_capped_errors_first(engine: Engine) -> None:
    data = payloads.empty_notes(3000)
    full = engine.validate(data)
    engine.max_findings = 100
    try:
        short = engine.validate(data)
    finally:
        engine.max_findings = 0
    assert len(full.findings) == 3002 and full.findings_omitted == 0
    assert len(short.findings) == 100 and short.findings_omitted == 2902
    assert short.status == full.status == "rejected"
    assert all(f.blocking for f in short.findings)
    assert short.to_dict()["findings_omitted"] == 2902


def test_fair_queue_round_robin_and_the_light_lane() -> None:
    def job(key: str, heavy: bool = False) -> Job:
        return Job(message=key.encode(), size=0, deadline=0, key=key, heavy=heavy)

    q = FairQueue()
    for j in [job("a", True), job("a", True), job("a"), job("b"), job("c", True)]:
        q.put(j)
    cancelled = job("b")
    cancelled.future.cancel()
    q.put(cancelled)
    # Heavy documents may not take the last free worker: only light heads qualify.
    light = q.pop(heavy_allowed=False)
    assert light is not None and light.key == "b"
    order = []
    while (j := q.pop()) is not None:
        order.append((j.key, j.heavy))
    assert order == [("a", True), ("c", True), ("a", True), ("a", False)]
    dropped = job("d")
    q.put(dropped)
    dropped.future.cancel()
    q.purge()
    assert len(q) == 0
    assert len(q) == 0 and q.oldest_age() == 0.0
    assert isinstance(light.future, Future)
