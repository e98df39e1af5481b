"""Store guarantees enforced by the database: one original under races, append-only history."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from gateway.cli import main as cli
from gateway.config import load_settings
from gateway.inbound import IntakePipeline, Submission
from gateway.store import Database, Document, DocumentClaim, repo
from gateway.store.migrate import pending_heads, upgrade

XR = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_"


async def _race(dbs: list[Database], validator: Any, corpus_dir: Path) -> list[Any]:
    """20 concurrent submissions of one invoice (UBL, CII; API, e-mail, AS4) over ``dbs``."""
    ubl = (corpus_dir / f"{XR}ubl.xml").read_bytes()
    cii = (corpus_dir / f"{XR}uncefact.xml").read_bytes()
    pipelines = [IntakePipeline(db, validator) for db in dbs]
    channels = ["api", "email", "as4", "api"]
    subs = [
        Submission(raw=ubl if i % 3 else cii, channel=channels[i % 4], tenant="acme")
        for i in range(20)
    ]
    return await asyncio.gather(
        *(pipelines[i % len(pipelines)].submit(s) for i, s in enumerate(subs))
    )


async def _assert_one_original(db: Database, results: list[Any]) -> None:
    originals = [r for r in results if r.status == "received"]
    assert len(originals) == 1, [r.status for r in results]
    assert all(r.duplicate_of == originals[0].document_id for r in results if r is not originals[0])
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Document)) == 20
        claims = list(await s.scalars(select(DocumentClaim.document_id)))
    assert claims == [originals[0].document_id] * 2  # sha256 + business key


def _settings(tmp_path: Path, url: str = "") -> Any:
    return load_settings(env={}, overrides={"data_dir": str(tmp_path), "database_url": url})


async def test_sqlite_race_across_two_engines_gives_one_original(
    tmp_path: Path, validator: Any, corpus_dir: Path
) -> None:
    # Two Database objects = two independent connection pools, like two processes: only the
    # database (BEGIN IMMEDIATE + claims primary key) can keep them from both winning.
    settings = _settings(tmp_path)
    dbs = [Database.from_settings(settings), Database.from_settings(settings)]
    await upgrade(dbs[0].engine)
    try:
        results = await _race(dbs, validator, corpus_dir)
        await _assert_one_original(dbs[0], results)
    finally:
        for db in dbs:
            await db.dispose()


@pytest.mark.postgres
async def test_postgres_race_gives_one_original(
    pg_database: str, tmp_path: Path, validator: Any, corpus_dir: Path
) -> None:
    settings = _settings(tmp_path, pg_database)
    dbs = [Database.from_settings(settings), Database.from_settings(settings)]
    assert dbs[0].engine.dialect.name == "postgresql"
    assert await pending_heads(dbs[0].engine)  # fresh database: everything pending
    await upgrade(dbs[0].engine)
    assert await pending_heads(dbs[0].engine) == []
    try:
        results = await _race(dbs, validator, corpus_dir)
        await _assert_one_original(dbs[0], results)
        for stmt in ("UPDATE status_history SET reason = 'x'", "DELETE FROM status_history"):
            with pytest.raises(Exception, match="append-only"):
                async with dbs[0].write() as s:
                    await s.execute(text(stmt))
    finally:
        for db in dbs:
            await db.dispose()


async def test_migrations_are_idempotent_and_sqlite_is_wal(tmp_path: Path) -> None:
    db = Database.from_settings(_settings(tmp_path))
    try:
        assert await pending_heads(db.engine)
        await upgrade(db.engine)
        await upgrade(db.engine)
        assert await pending_heads(db.engine) == []
        async with db.read() as s:
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await db.dispose()
    assert (tmp_path / "gateway.db").exists()


def test_management_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    assert cli(["keys", "create", "--tenant", "acme", "--scope", "read", "--label", "erp"]) == 0
    key = capsys.readouterr().out.strip()
    assert cli(["participants", "add", "--tenant", "acme", "0088:7300010000001"]) == 0
    assert cli(["participants", "add", "--tenant", "other", "0088:7300010000001"]) == 2
    assert "already belongs to tenant acme" in capsys.readouterr().err
    assert cli(["participants", "list"]) == 0
    assert "0088:7300010000001  acme" in capsys.readouterr().out
    assert cli(["webhooks", "set", "--tenant", "acme", "ftp://x"]) == 2
    assert cli(["keys", "list", "--json"]) == 0
    (listed,) = __import__("json").loads(capsys.readouterr().out)
    assert listed["tenant"] == "acme" and listed["label"] == "erp" and not listed["revoked"]
    assert key not in str(listed)  # secrets are never listed
    assert cli(["keys", "revoke", listed["id"]]) == 0
    assert cli(["participants", "remove", "0088:7300010000001"]) == 0

    async def check() -> None:
        db = Database.from_settings(_settings(tmp_path))
        async with db.read() as s:
            assert await repo.verify_api_key(s, key) is None  # revoked
            assert await repo.tenant_for_participant(s, "0088:7300010000001") is None
        await db.dispose()

    asyncio.run(check())
