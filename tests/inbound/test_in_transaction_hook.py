"""The intake writer's in-transaction hook (``BatchWriter.store_all(..., before=)``): a unit's
own rows commit with its documents or not at all, and a unit whose hook refuses fails alone -
the other units of the same group-commit batch are stored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.config import load_settings
from gateway.inbound.storing import BatchWriter, Pending
from gateway.store import Database, Document, Tenant, new_document_id, repo, upgrade


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database.from_settings(load_settings(env={}, overrides={"data_dir": str(tmp_path)}))
    await upgrade(database.engine)
    yield database
    await database.dispose()


def pending(text: str) -> Pending:
    raw = f"<Invoice>{text}</Invoice>".encode()
    fields = {
        "id": new_document_id(),
        "direction": "inbound",
        "channel": "test",
        "tenant": "acme",
        "status": "received",
        "status_reason": None,
        "raw": raw,
        "sha256": repo.sha256_hex(raw),
        "size": len(raw),
        "validation_status": "accepted",
        "report": {},
        "meta": {"text": text},
    }
    return Pending(fields, {"sha256": fields["sha256"]}, "test", [])


class Refused(Exception):
    pass


async def test_a_refusing_hook_fails_its_unit_alone(db: Database) -> None:
    writer = BatchWriter(db, None)
    calls: list[str] = []

    async def record(session: Any, docs: list[Document]) -> None:
        calls.append("a")
        await repo.ensure_tenant(session, f"marker-{docs[0].id}")  # a row of the channel's own

    async def refuse(session: Any, docs: list[Document]) -> None:
        calls.append("b")
        raise Refused("already on record")

    a, b, c = pending("a"), pending("b"), pending("c")
    results = await asyncio.gather(
        writer.store_all([a], record),
        writer.store_all([b], refuse),
        writer.store_all([c]),
        return_exceptions=True,
    )
    assert isinstance(results[1], Refused)  # the refusal reaches the unit's caller as it is
    (doc_a,), (doc_c,) = results[0], results[2]
    assert doc_c.status == doc_a.status == "received"
    assert calls == ["a", "b", "a"]  # one batch; rolled back and written again without b
    async with db.read() as s:
        texts = sorted(d.meta["text"] for d in await s.scalars(select(Document)))
        marker = await s.get(Tenant, f"marker-{doc_a.id}")
    assert texts == ["a", "c"]
    assert marker is not None  # committed together with its document


async def test_nothing_of_a_refused_unit_is_left(db: Database) -> None:
    writer = BatchWriter(db, None)

    async def half_then_refuse(session: Any, docs: list[Document]) -> None:
        await repo.ensure_tenant(session, "half-written")
        raise Refused("changed my mind")

    with pytest.raises(Refused):
        await writer.store_all([pending("x"), pending("y")], half_then_refuse)
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Document)) == 0
        assert await s.get(Tenant, "half-written") is None
