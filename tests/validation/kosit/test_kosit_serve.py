"""``gateway serve`` with ``[validation] kosit_config``: the installed KoSIT bundle, for one
tenant or for all, on the same worker pool (here in-process), through a real gateway too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.config import load_settings
from gateway.store import repo
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


async def test_rest_documents_of_the_tenant_get_kosit_verdict_and_report(
    tmp_path: Path, installed_data_dir: Path, aiohttp_server: Any, corpus_dir: Path
) -> None:
    """Through a real gateway on loopback: acme's REST submission is validated with the KoSIT
    configuration (its stored report carries the VARL report), globex's with ours."""
    from tests.live_gateway import factory

    validator = _validator(installed_data_dir, ["acme"])
    try:
        async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
            gw = await make()
            acme = await gw.key("acme", "submit", "read")
            globex = await gw.key("globex", "submit", "read")
            theirs = await gw.receive(acme, GOOD.read_bytes())
            ours = await gw.receive(globex, GOOD.read_bytes())
            async with gw.db.read() as session:
                stored = await repo.get_report(session, theirs["id"])
                other = await repo.get_report(session, ours["id"])
    finally:
        validator.close()
    assert theirs["status"] == ours["status"] == "received"
    assert theirs["validation"]["accepted"] and ours["validation"]["accepted"]
    # the stored report keeps KoSIT's VARL report beside the findings
    assert stored["scenario_name"] == "EN16931 XRechnung (UBL Invoice)"
    assert "<rep:report" in stored["kosit_report"] and "rep:accept" in stored["kosit_report"]
    assert "kosit_report" not in other
    assert ours["validation"]["scenario"] == "xrechnung-3.0-ubl-invoice"
