"""France's migrations on a real SQLite file and a real PostgreSQL database.

``f20_flow_search_index`` builds ``ix_documents_tenant_updated_seq`` CONCURRENTLY on
PostgreSQL (a plain CREATE INDEX blocks every write to ``documents`` while it builds on a big
store), which cannot run inside a transaction: the statement the database got, the index it
has (valid), and the upgrade's other migrations around it (the history's head applied) are
checked; SQLite builds it plainly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.store import pending_heads, upgrade

INDEX = "ix_documents_tenant_updated_seq"


def _statements(engine: AsyncEngine) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return seen


async def _indexes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: {i["name"] for i in inspect(c).get_indexes("documents")}
        )


async def test_the_flow_search_index_does_not_block_writes_on_postgresql(
    store_url: str,
) -> None:
    engine = create_async_engine(store_url)
    try:
        await upgrade(engine, "f20_cdar_owed")
        assert INDEX not in await _indexes(engine)
        seen = _statements(engine)
        await upgrade(engine)
        built = [s for s in seen if INDEX in s]
        if engine.dialect.name == "postgresql":
            assert built == [
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
                "ON documents (tenant, updated_at, seq)"
            ]
            async with engine.connect() as conn:
                valid = await conn.scalar(
                    text("SELECT indisvalid FROM pg_index WHERE indexrelid = CAST(:i AS regclass)"),
                    {"i": INDEX},
                )
            assert valid is True
        else:
            assert built == [f"CREATE INDEX {INDEX} ON documents (tenant, updated_at, seq)"]
        assert INDEX in await _indexes(engine)
        # Every later migration ran too (the autocommit block did not end the upgrade).
        assert await pending_heads(engine) == []
    finally:
        await engine.dispose()
