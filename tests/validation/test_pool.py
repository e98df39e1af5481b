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
