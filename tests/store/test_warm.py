"""After a start the server reads the two indexes every new document reaches at a random place
(the claims' primary key, ``documents.sha256``): in chunks, through the indexes alone (SQLite's
plan says COVERING INDEX, never a SCAN of the table), about every entry once, and a stop
cancels it between chunks."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import event, text

from gateway.config import load_settings
from gateway.inbound import fill_store
from gateway.server import create_app
from gateway.store import Database, upgrade, warm_indexes
from gateway.web import DB

COUNT = 45


async def _filled(tmp_path: Path, url: str, validator: Any, corpus: Path) -> Database:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path), "database_url": url})
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    raw = (corpus / "peppol-bis-examples" / "base-example.xml").read_bytes()
    assert (
        await fill_store(db, [(raw, await validator.validate(raw))], COUNT, tenant="acme") == COUNT
    )
    return db


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_each_index_is_read_once_in_chunks(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, validator: Any, corpus_dir: Path
) -> None:
    url = request.getfixturevalue("pg_database") if backend == "postgresql" else ""
    db = await _filled(tmp_path, url, validator, corpus_dir)
    statements: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, *args: Any) -> None:
        if sql.lstrip().startswith("SELECT"):
            statements.append((sql, params))

    engine = db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        read = await warm_indexes(db, chunk=10)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    try:
        async with db.read() as s:
            claims = await s.scalar(text("SELECT count(*) FROM document_claims"))
        # One statement per chunk of 10 entries (the last one finds no key after it).
        assert claims >= COUNT
        assert read == {
            "document_claims": (claims - 1) // 10 + 1,
            "documents.sha256": (COUNT - 1) // 10 + 1,
        }
        chunks = [s for s, _ in statements if "OFFSET" in s]
        assert len(chunks) == sum(read.values())
        if backend == "sqlite":
            async with db.engine.connect() as conn:
                for sql, params in {s: p for s, p in statements}.items():
                    plan = [
                        row[-1]
                        for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
                    ]
                    # A range search of the index alone: no table row read, nothing scanned.
                    assert all(
                        re.match(r"SEARCH \w+ USING COVERING INDEX ", line) for line in plan
                    ), (sql, plan)
    finally:
        await db.dispose()


async def test_a_started_server_reads_them_and_a_stop_cancels(
    tmp_path: Path, validator: Any, corpus_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = await _filled(tmp_path, "", validator, corpus_dir)
    await db.dispose()
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    caplog.set_level(logging.INFO, logger="gateway.store.warm")
    runner = web.AppRunner(create_app(settings, validator=validator), access_log=None)
    await runner.setup()
    try:
        for _ in range(200):
            if any(r.getMessage() == "store indexes read" for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        (record,) = [r for r in caplog.records if r.getMessage() == "store indexes read"]
        assert record.chunks == {"document_claims": 1, "documents.sha256": 1}  # type: ignore[attr-defined]
        assert runner.app is not None and runner.app[DB] is not None
    finally:
        await runner.cleanup()
