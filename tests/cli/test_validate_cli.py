"""``gateway validate`` as a user runs it: a real subprocess, JSON Lines, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS

GOOD = CORPUS / "peppol-bis-examples" / "base-example.xml"
CII = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard" / "01.01a-INVOICE_uncefact.xml"


def run(data_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_json_lines_and_exit_zero(installed_data_dir: Path) -> None:
    res = run(installed_data_dir, "validate", "--format", "json", GOOD, CII)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(GOOD), str(CII)]
    assert [line["scenario"] for line in lines] == ["peppol-bis3-invoice", "xrechnung-3.0-cii"]
    assert all(line["accepted"] is True and isinstance(line["findings"], list) for line in lines)


def test_rejected_exit_one_with_findings(installed_data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(
        GOOD.read_bytes().replace(
            b"<cbc:DocumentCurrencyCode>EUR", b"<cbc:DocumentCurrencyCode>EUX"
        )
    )
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<Invoice>")
    res = run(installed_data_dir, "validate", "--format", "json", "--jobs", "2", GOOD, bad, broken)
    assert res.returncode == 1
    good_r, bad_r, broken_r = (json.loads(line) for line in res.stdout.splitlines())
    assert good_r["accepted"] and not bad_r["accepted"] and broken_r["status"] == "not-well-formed"
    f = next(f for f in bad_r["findings"] if f["rule"] == "BR-CL-04")
    assert set(f) >= {"rule", "severity", "location", "message", "source"}
    assert f["severity"] == "fatal" and f["source"] == "en16931"


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "--scenario", "nope", str(GOOD)],
        ["validate", "/does/not/exist.xml"],
        ["validate", "--format", "yaml", str(GOOD)],
    ],
    ids=["no-files", "unknown-scenario", "missing-file", "bad-format"],
)
def test_usage_errors_exit_two(installed_data_dir: Path, args: list[str]) -> None:
    res = run(installed_data_dir, *args)
    assert res.returncode == 2
    assert "error" in res.stderr


def test_text_html_and_list(installed_data_dir: Path) -> None:
    res = run(installed_data_dir, "validate", "--scenario", "en16931-ubl-invoice", GOOD)
    assert res.returncode == 0 and "ACCEPTED (en16931-ubl-invoice)" in res.stdout
    res = run(installed_data_dir, "validate", "--format", "html", GOOD)
    assert res.stdout.startswith("<!DOCTYPE html>") and "peppol-bis3-invoice" in res.stdout
    res = run(installed_data_dir, "validate", "--list-scenarios")
    assert res.returncode == 0 and "peppol-invoice-response-3" in res.stdout


def test_missing_artefacts_is_clear(tmp_path: Path) -> None:
    res = run(tmp_path, "validate", GOOD)
    assert res.returncode == 2 and "gateway artefacts install" in res.stderr
