"""``gateway validate --kosit-config`` as a user runs it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lxml import etree

from tests.conftest import CORPUS

GOOD = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"
PEPPOL = CORPUS / "peppol-bis-examples" / "base-example.xml"


def _run(data_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "validate", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_output_dir_reports_and_html_like_kosit(
    installed_data_dir: Path, kosit_config_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    res = _run(
        installed_data_dir,
        "--kosit-config",
        kosit_config_dir,
        "--format",
        "kosit",
        "--output-dir",
        out,
        GOOD,
        PEPPOL,
    )
    # the Peppol document matches no XRechnung scenario: not accepted, so exit 1
    assert res.returncode == 1, res.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "01.01a-INVOICE_ubl-report.xml",
        "base-example-report.xml",
    ]
    rep = "{http://www.xoev.de/de/validator/varl/1}"
    good = etree.parse(str(out / "01.01a-INVOICE_ubl-report.xml")).getroot()
    assert good.find(f"{rep}assessment/{rep}accept") is not None
    other = etree.parse(str(out / "base-example-report.xml")).getroot()
    assert other.find(f"{rep}noScenarioMatched") is not None

    res = _run(
        installed_data_dir, "--kosit-config", kosit_config_dir, "--format", "kosit-html", GOOD
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("<!DOCTYPE html>") and "anzunehmen" in res.stdout


def test_configuration_errors_exit_two(installed_data_dir: Path, tmp_path: Path) -> None:
    res = _run(installed_data_dir, "--kosit-config", tmp_path, GOOD)
    assert res.returncode == 2 and "no KoSIT configuration" in res.stderr
    res = _run(installed_data_dir, "--daemon")
    assert res.returncode == 2 and "--kosit-config" in res.stderr
