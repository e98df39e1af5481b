"""The migration history (every feature's ``migrations/versions``, one alembic history)."""

from __future__ import annotations

import importlib
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.store import Database
from gateway.store.migrate import alembic_config, upgrade
from tests.factories import make_document

LARGE = importlib.import_module("gateway.store.migrations.versions.0016_lz4_toast").LARGE


def test_migration_history_has_one_head() -> None:
    """Each feature's migration points at the head it was written against, so the order in
    which they run is one someone chose (two heads would run in an order nobody checked)."""
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


async def test_large_columns_are_compressed_with_lz4_on_postgresql(pg_databases: Any) -> None:
    """0016: raw documents (and reports, blobs) compress with LZ4, cheaper than pglz: a
    document stored afterwards has its bytes stored that way, and they read back unchanged."""
    raw = b"<Invoice>" + b"<cbc:Note>repeated text compresses</cbc:Note>" * 4000 + b"</Invoice>"
    async with pg_databases() as url:
        db = Database(create_async_engine(url))
        try:
            await upgrade(db.engine)
            async with db.write() as session:
                session.add(make_document(raw, tenant=None))
            async with db.read() as session:
                columns = (await session.execute(text(_COMPRESSION))).all()
                stored, back = (
                    await session.execute(
                        text("SELECT pg_column_compression(raw), raw FROM documents")
                    )
                ).one()
        finally:
            await db.dispose()
    assert {f"{t}.{c}": m for t, c, m in columns} == {
        f"{t}.{c}": "l" for t, names in LARGE.items() for c in names
    }
    assert (stored, back) == ("lz4", raw)


_COMPRESSION = """
SELECT c.relname, a.attname, a.attcompression::text FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('documents', 'attachments', 'blobs')
  AND a.attname IN ('raw', 'report', 'metadata', 'data') AND NOT a.attisdropped
"""
