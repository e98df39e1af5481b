"""The memory bound relative to each worker's own baseline (issue 18 item 7), on real workers.

A worker's baseline is its settled size when ready plus what compiling added; it may grow
``growth_mib`` above that. Measured on this machine (one worker, lazy compiling): baseline
240-256 MiB after the XRechnung suite's scenarios; the suite leaves it 1-8 MiB above, a
6,000-line invoice (5.1 MB) 45-140 MiB above once freed heap went back (``malloc_trim``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.validation import Validator
from gateway.validation.pool import Bounds
from gateway.validation.pool.process import limit_mib
from tests.validation import payloads

#: Below what the large invoice leaves (45-140 MiB after malloc_trim, varying from run to
#: run), well above what light documents leave (1-8 MiB).
GROWTH = 24
SUITE = sorted((payloads.SHARED / "corpus/xrechnung-testsuite").rglob("*.xml"))


def test_the_limit_is_the_lower_of_baseline_plus_growth_and_the_cap() -> None:
    assert limit_mib(240, 768, 48) == 288
    assert limit_mib(400, 768, 48) == 448  # every scenario compiled: no thrash at ~400
    assert limit_mib(900, 768, 48) == 768  # the cap holds whatever the baseline
    assert limit_mib(240, 0, 48) == 288
    assert limit_mib(240, 450, 0) == 450  # the old fixed bound
    assert limit_mib(240, 0, 0) == 0  # off


def test_a_worker_below_the_floor_is_kept_whatever_it_grew() -> None:
    # Steady ingest leaves a lazily compiled worker 50-75 MiB above its ~210 MiB baseline.
    assert limit_mib(210, 768, 40, 300) == 300
    assert limit_mib(376, 768, 40, 300) == 416  # every scenario compiled: growth counts again
    assert limit_mib(210, 280, 40, 300) == 280  # the cap still wins
    assert limit_mib(210, 768, 0, 300) == 768  # no growth bound: the floor has nothing to lift


def test_the_settings_floor_reaches_the_pool(installed_data_dir: Path) -> None:
    from gateway.config import load_settings

    settings = load_settings(
        env={"GATEWAY_VALIDATION_WORKER_RSS_FLOOR_MIB": "320"},
        overrides={"data_dir": str(installed_data_dir)},
    )
    validator = Validator.from_settings(settings)  # lazy: no worker started
    try:
        assert validator.bounds.memory == (768, 40, 320)
    finally:
        validator.close()


def _numbers(reports: list) -> list[str | None]:  # type: ignore[type-arg]
    return [(r.document or {}).get("number") for r in reports]


@pytest.mark.slow
async def test_a_worker_grown_by_a_large_invoice_is_replaced_between_documents(
    installed_data_dir: Path,
) -> None:
    light = [p.read_bytes() for p in SUITE if p.stat().st_size < 20_000][:12]
    big = payloads.xrechnung_lines(6000)  # 5.1 MB
    validator = Validator(
        installed_data_dir / "artefacts",
        jobs=1,
        warm=False,
        bounds=Bounds(max_rss_mib=768, growth_mib=GROWTH),
    )
    try:
        first = await asyncio.gather(*(validator.validate(d) for d in light))
        assert all(r.accepted for r in first)
        health = validator.health()
        (worker,) = health["workers"]
        assert health["restarts"]["memory"] == 0, "normal documents must not recycle"
        assert 100 < worker["baseline_mib"] < worker["rss_mib"] + 1
        assert worker["rss_mib"] <= worker["baseline_mib"] + GROWTH
        # The large invoice among light documents: the worker answers it and is replaced; a
        # light one waiting behind it goes to the successor. Every document is answered once.
        reports = await asyncio.gather(
            validator.validate(big), *(validator.validate(d) for d in light[:4])
        )
        assert reports[0].document and reports[0].document["number"]
        assert _numbers(reports[1:]) == _numbers(first[:4])
        assert [r.status for r in reports[1:]] == ["accepted"] * 4
        health = validator.health()
        assert health["restarts"]["memory"] == 1, repr((worker, health["workers"]))
        # The successor serves the next documents, within its own bound.
        after = await asyncio.gather(*(validator.validate(d) for d in light))
        assert _numbers(after) == _numbers(first)
        health = validator.health()
        assert health["restarts"]["memory"] == 1
        assert health["validated"] == 2 * len(light) + 5
        (successor,) = health["workers"]
        assert successor["pid"] != worker["pid"]
        assert successor["documents"] >= len(light)
        assert successor["rss_mib"] <= successor["baseline_mib"] + GROWTH <= 300
    finally:
        validator.close()
