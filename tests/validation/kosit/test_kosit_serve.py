"""``gateway serve`` with ``[validation] kosit_config``: the installed KoSIT bundle, for one
tenant or for all, on the same worker pool (here in-process)."""

from __future__ import annotations

from pathlib import Path

from gateway.config import load_settings
from gateway.validation import Validator
from tests.conftest import CORPUS

GOOD = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"


def _validator(data_dir: Path, tenants: list[str]) -> Validator:
    settings = load_settings(
        env={},
        overrides={
            "data_dir": str(data_dir),
            "validation": {
                "jobs": 0,
                "kosit_config": "kosit-xrechnung-config",
                "kosit_tenants": tenants,
            },
        },
    )
    assert settings.kosit_config_path == data_dir / "artefacts" / "kosit-xrechnung-config"
    return Validator.from_settings(settings, warm=False)


def test_the_installed_bundle_serves_one_tenant(installed_data_dir: Path) -> None:
    validator = _validator(installed_data_dir, ["acme"])
    try:
        theirs = validator.validate_sync(GOOD.read_bytes(), tenant="acme")
        ours = validator.validate_sync(GOOD.read_bytes(), tenant="globex")
        unknown = validator.validate_sync(GOOD.read_bytes())
    finally:
        validator.close()
    assert theirs.accepted and theirs.kosit_report is not None
    assert theirs.scenario_name == "EN16931 XRechnung (UBL Invoice)"
    assert (
        ours.accepted and ours.kosit_report is None and ours.scenario == "xrechnung-3.0-ubl-invoice"
    )
    assert unknown.kosit_report is None


def test_no_tenants_means_every_tenant(installed_data_dir: Path) -> None:
    validator = _validator(installed_data_dir, [])
    try:
        report = validator.validate_sync(GOOD.read_bytes(), tenant="anyone")
        forced = validator.validate_sync(GOOD.read_bytes(), "xrechnung-3.0-ubl-invoice")
    finally:
        validator.close()
    assert report.kosit_report is not None and report.accepted
    assert forced.kosit_report is None  # an explicit scenario of ours still wins
