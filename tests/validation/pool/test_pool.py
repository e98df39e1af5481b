"""The async Validator facade over worker processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.validation import UnknownScenario, Validator
from tests.conftest import CORPUS


async def test_pool_validates_concurrently(installed_data_dir: Path) -> None:
    settings = load_settings(
        env={"GATEWAY_DATA_DIR": str(installed_data_dir), "GATEWAY_VALIDATION_JOBS": "2"}
    )
    files = sorted((CORPUS / "xrechnung-testsuite").rglob("*.xml"))[:10]
    validator = Validator.from_settings(settings, warm=False)
    try:
        reports = await asyncio.gather(*(validator.validate(p.read_bytes()) for p in files))
        assert all(r.accepted for r in reports)
        assert [r.document["number"] for r in reports] == [
            validator.validate_sync(p.read_bytes()).document["number"] for p in files
        ]
        bad = await validator.validate(b"<<<")
        assert bad.status == "not-well-formed"
        with pytest.raises(UnknownScenario):
            await validator.validate(b"<a/>", "nope")
    finally:
        await validator.aclose()


async def test_in_process_mode(installed_data_dir: Path) -> None:
    validator = Validator(installed_data_dir / "artefacts", jobs=0, warm=False)
    try:
        report = await validator.validate(
            (CORPUS / "peppol-mls/MessageLevelStatus_Example_AP.xml").read_bytes()
        )
        assert report.accepted and report.scenario == "peppol-mls-1.0"
    finally:
        await validator.aclose()


def test_in_process_validators_come_and_go_safely(installed_data_dir: Path, tmp_path: Path) -> None:
    """Regression: short-lived in-process validators on threads that exit crashed GraalVM
    (exit 99). Run the pattern in a child process so a crash cannot take pytest down."""
    import subprocess
    import sys

    script = tmp_path / "churn.py"
    script.write_text(
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from gateway.validation import Engine, Validator\n"
        f"ART = Path({str(installed_data_dir / 'artefacts')!r})\n"
        f"DOC = Path({str(CORPUS / 'peppol-mls/MessageLevelStatus_Example_AB.xml')!r}).read_bytes()\n"
        "async def once():\n"
        "    v = Validator(ART, jobs=0, warm=False)\n"
        "    r = await v.validate(DOC)\n"
        "    await v.aclose()\n"
        "    return r.accepted\n"
        "ok = [asyncio.run(once()) for _ in range(4)]\n"
        "ok.append(Engine(ART).validate(DOC).accepted)\n"
        "print(all(ok))\n"
    )
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "True"


async def test_a_killed_worker_is_replaced_and_the_request_retried(
    installed_data_dir: Path,
) -> None:
    import os
    import signal

    doc = (CORPUS / "peppol-mls/MessageLevelStatus_Example_AP.xml").read_bytes()
    validator = Validator(installed_data_dir / "artefacts", jobs=1, warm=False)
    try:
        assert (await validator.validate(doc)).accepted
        workers = validator._workers
        assert workers is not None
        dead = workers._workers[0].process
        os.kill(dead.pid, signal.SIGKILL)
        dead.join(5)
        report = await validator.validate(doc)
        assert report.accepted
        assert workers._workers[0].process.pid != dead.pid
        assert workers._workers[0].process.is_alive()
    finally:
        await validator.aclose()
    assert not workers._workers  # shut down
    assert not dead.is_alive()


async def test_a_cancelled_validation_does_not_stall_the_worker(installed_data_dir: Path) -> None:
    """A caller that gives up (client disconnect) cancels its future while the worker is busy;
    the late answer must be dropped and later requests still answered."""
    docs = [p.read_bytes() for p in sorted((CORPUS / "xrechnung-testsuite").rglob("*.xml"))[:6]]
    validator = Validator(installed_data_dir / "artefacts", jobs=1, warm=False)
    try:
        tasks = [asyncio.ensure_future(validator.validate(d)) for d in docs[:3]]
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(t.cancelled() for t in tasks)
        reports = await asyncio.wait_for(
            asyncio.gather(*(validator.validate(d) for d in docs[3:])), timeout=60
        )
        assert all(r.accepted for r in reports)
    finally:
        await validator.aclose()
