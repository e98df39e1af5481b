"""Rows held for the commit (``gateway.store.insert_at_commit``): inserted in one statement
when the transaction commits, after the session's pending objects (their foreign keys may
point at them), and dropped with a rollback. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from gateway.config import load_settings
from gateway.store import (
    Database,
    Document,
    DocumentClaim,
    insert_at_commit,
    repo,
    upgrade,
)
from tests.factories import make_document


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else ""
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path), "database_url": url})
    database = Database.from_settings(settings)
    await upgrade(database.engine)
    yield database
    await database.dispose()


def claim(doc: Document) -> dict[str, Any]:
    return {
        "tenant": "acme",
        "direction": "inbound",
        "kind": "sha256",
        "value": doc.sha256,
        "document_id": doc.id,
    }


async def test_held_rows_go_in_with_the_commit_in_one_statement(db: Database) -> None:
    inserts: list[str] = []

    def on(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.startswith("INSERT INTO document_claims"):
            inserts.append(sql)

    event.listen(db.engine.sync_engine, "before_cursor_execute", on)
    try:
        async with db.write() as s:
            await repo.ensure_tenant(s, "acme")
            docs = [make_document(f"<a>{n}</a>") for n in range(5)]
            for doc in docs:
                s.add(doc)  # pending, not flushed: the claims' foreign keys point at them
                insert_at_commit(s, DocumentClaim, claim(doc))
            assert await s.scalar(select(func.count()).select_from(DocumentClaim)) == 0
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", on)
    assert len(inserts) == 1
    async with db.read() as s:
        owners = set(await s.scalars(select(DocumentClaim.document_id)))
    assert owners == {d.id for d in docs}


async def test_held_rows_are_dropped_with_a_rollback(db: Database) -> None:
    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        async with db.write() as s:
            await repo.ensure_tenant(s, "acme")
            doc = make_document("<b/>")
            s.add(doc)
            insert_at_commit(s, DocumentClaim, claim(doc))
            raise Crash
    async with db.write() as s:  # the next transaction holds nothing of the first
        await repo.ensure_tenant(s, "acme")
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(DocumentClaim)) == 0
        assert await s.scalar(select(func.count()).select_from(Document)) == 0
