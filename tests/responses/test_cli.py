"""``gateway responses emit|list|rematch`` against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.cli import main


def _db_flag(data_dir: Path, tenant: str) -> bool:
    from gateway.config import load_settings
    from gateway.responses.emit import emission_enabled
    from gateway.store import Database

    async def read() -> bool:
        db = Database.from_settings(load_settings(env={}, overrides={"data_dir": str(data_dir)}))
        try:
            async with db.read() as s:
                return await emission_enabled(s, tenant)
        finally:
            await db.dispose()

    return asyncio.run(read())


def _add_unmatched(data_dir: Path) -> None:
    from gateway.config import load_settings
    from gateway.responses.models import InvoiceResponseRecord
    from gateway.store import Database

    async def write() -> None:
        db = Database.from_settings(load_settings(env={}, overrides={"data_dir": str(data_dir)}))
        try:
            async with db.write() as s:
                s.add(
                    InvoiceResponseRecord(
                        direction="received",
                        tenant=None,
                        imr_id="orphan-1",
                        referenced_id="INV-404",
                        partial=False,
                        state="unmatched",
                        details={},
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(write())


def test_emit_list_rematch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "responses", "emit", "acme", "on"]) == 0
    assert json.loads(capsys.readouterr().out) == {"tenant": "acme", "emit_responses": True}
    assert _db_flag(tmp_path / "data", "acme") is True
    assert main(["--config", str(cfg), "responses", "emit", "acme", "off"]) == 0
    assert _db_flag(tmp_path / "data", "acme") is False
    capsys.readouterr()
    assert main(["--config", str(cfg), "responses", "list", "--state", "unmatched"]) == 0
    assert capsys.readouterr().out == ""
    _add_unmatched(tmp_path / "data")  # e.g. a response for a receiver no tenant owns
    assert main(["--config", str(cfg), "responses", "list", "--state", "unmatched"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["response_id"] == "orphan-1" and json.loads(line)["tenant"] is None
    assert main(["--config", str(cfg), "responses", "rematch"]) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": 0}


def test_email_trust(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    base = ["--config", str(cfg), "responses", "email-trust", "acme"]
    assert main([*base, "--add", "Billing@Buyer.example", "--participant", "0088:1"]) == 0
    want = [{"sender": "billing@buyer.example", "participant": "0088:1"}]
    assert json.loads(capsys.readouterr().out)["email_trust"] == want
    assert main(base) == 0
    assert json.loads(capsys.readouterr().out) == {"tenant": "acme", "email_trust": want}
    assert main([*base, "--add", "nobody"]) == 2
    assert "not an e-mail address" in capsys.readouterr().err
    assert main([*base, "--remove", "billing@buyer.example"]) == 0
    assert json.loads(capsys.readouterr().out)["email_trust"] == []
