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
from gateway.inbound import Joined
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


# --- Joined hooks: the units of one batch in one call -----------------------------------------


async def test_joined_hooks_run_once_per_batch_and_refuse_per_unit(db: Database) -> None:
    """The AS4 channel's form: one call claims every message of the batch; a unit it refuses
    fails alone with its own error, the others are stored, their rows with them."""
    writer = BatchWriter(db, None)
    calls: list[list[str]] = []

    async def run(session: Any, units: list[tuple[Any, list[Document]]]) -> list[Any]:
        calls.append([arg for arg, _ in units])
        for arg, _docs in units:
            if arg != "refused":
                await repo.ensure_tenant(session, f"marker-{arg}")
        return [Refused(arg) if arg == "refused" else None for arg, _ in units]

    items = {name: pending(name) for name in ("a", "refused", "c")}
    results = await asyncio.gather(
        *(writer.store_all([item], Joined(run, name)) for name, item in items.items()),
        writer.store_all([pending("plain")]),
        return_exceptions=True,
    )
    assert isinstance(results[1], Refused) and str(results[1]) == "refused"
    assert [r[0].status for r in (results[0], results[2], results[3])] == ["received"] * 3
    # One batch: one call for the three units; rolled back, then once more without the refused.
    assert calls == [["a", "refused", "c"], ["a", "c"]]
    async with db.read() as s:
        texts = sorted(d.meta["text"] for d in await s.scalars(select(Document)))
        markers = sorted(t for t in await s.scalars(select(Tenant.name)) if "marker" in t)
    assert texts == ["a", "c", "plain"]
    assert markers == ["marker-a", "marker-c"]


async def test_a_joined_run_that_fails_as_a_whole_is_retried_unit_by_unit(db: Database) -> None:
    """An error the run cannot pin on a unit (it raises) fails no unit it does not belong to:
    the units are written one by one and only the one that fails alone fails."""
    writer = BatchWriter(db, None)
    calls: list[list[str]] = []

    async def run(session: Any, units: list[tuple[Any, list[Document]]]) -> list[Any]:
        calls.append([arg for arg, _ in units])
        if "bad" in [arg for arg, _ in units]:
            raise Refused("bad")
        return [None] * len(units)

    results = await asyncio.gather(
        *(writer.store_all([pending(n)], Joined(run, n)) for n in ("a", "bad", "c")),
        return_exceptions=True,
    )
    assert isinstance(results[1], Refused)
    assert results[0][0].status == results[2][0].status == "received"
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    async with db.read() as s:
        texts = sorted(d.meta["text"] for d in await s.scalars(select(Document)))
    assert texts == ["a", "c"]
