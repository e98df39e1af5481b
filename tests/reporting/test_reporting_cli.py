"""``gateway reporting tsr|eusr --month --output`` and ``list`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.cli import main


def test_cli_writes_validates_stores_and_lists(tmp_path: Path, installed_data_dir: Path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "artefacts").symlink_to(installed_data_dir / "artefacts")
    config = tmp_path / "gateway.toml"
    config.write_text(f'data_dir = "{data}"\n[as4]\nparty_id = "POP000123"\n')
    out = tmp_path / "tsr.xml"
    assert (
        main(
            [
                "--config",
                str(config),
                "reporting",
                "tsr",
                "--month",
                "2026-04",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    entry = json.loads(capsys.readouterr().out)
    assert entry["valid"] and entry["kind"] == "tsr" and entry["delivery"] == "not sent"
    assert b'<ReporterID schemeID="CertSubjectCN">POP000123</ReporterID>' in out.read_bytes()
    assert main(["--config", str(config), "reporting", "eusr", "--month", "2026-04"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "reporting", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["kind"] for r in listed) == ["eusr", "tsr"]
    assert main(["--config", str(config), "reporting", "tsr", "--month", "2026-4x"]) == 2
