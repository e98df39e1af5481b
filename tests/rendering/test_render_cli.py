"""``gateway render`` from the command line, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

XR = "xrechnung-testsuite/business-cases/standard/"


def _gateway(data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = os.environ | {"GATEWAY_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [str(Path(sys.executable).with_name("gateway")), *args],
        capture_output=True,
        env=env,
        timeout=300,
    )


def test_render_cli(installed_data_dir: Path, corpus_dir: Path, tmp_path: Path) -> None:
    invoice = corpus_dir / XR / "01.01a-INVOICE_ubl.xml"
    res = _gateway(installed_data_dir, "render", str(invoice), "--lang", "en")
    assert res.returncode == 0, res.stderr
    assert b"123456XX" in res.stdout and b"Invoice number" in res.stdout

    response = corpus_dir / "peppol-invoice-response/InvoiceResponse_Example.xml"
    res = _gateway(installed_data_dir, "render", str(response), "-o", str(tmp_path / "x.html"))
    assert res.returncode == 1
    assert b"unsupported-document" in res.stderr
    assert not (tmp_path / "x.html").exists()

    res = _gateway(installed_data_dir, "render", str(tmp_path / "missing.xml"))
    assert res.returncode == 2
