"""A sent response's state follows its outbound item even when the queue moves the item while
the ``sent`` row is being inserted (the insert is ordered after the queue's move)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.config import load_settings
from gateway.lifecycle import BulkMove, Cause, Lifecycle
from gateway.responses import Emitter, InvoiceResponseRecord, ResponseService, load_mapping
from gateway.responses import models as rm
from gateway.responses.follow import ResponseFollower
from gateway.store import Database, repo, upgrade
from tests.factories import make_document


@pytest.mark.postgres
async def test_sent_row_sees_a_move_committed_while_it_is_inserted(
    tmp_path: Path, pg_database: str
) -> None:
    settings = load_settings(
        env={}, overrides={"data_dir": str(tmp_path), "database_url": pg_database}
    )
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    lifecycle = Lifecycle()
    mapping = load_mapping()
    ResponseFollower(ResponseService(db, mapping, lifecycle=lifecycle), lifecycle)
    raw = b"<ApplicationResponse/>"
    doc = make_document(
        raw, direction="outbound", channel="invoice-response", kind="ApplicationResponse"
    )
    lifecycle.begin(doc, "queued")
    async with db.write() as s:
        await repo.ensure_tenant(s, "acme")
        s.add(doc)
        await s.flush()
        await lifecycle.started(s, doc, Cause("api", "api"))
    rec = InvoiceResponseRecord(
        direction=rm.SENT,
        tenant="acme",
        imr_id="IMR-RACE-1",
        response_code="AP",
        partial=False,
        state=rm.QUEUED,
        document_id=doc.id,
        details={},
    )
    emitter = Emitter(db, mapping)
    async with db.write() as s:  # the queue's transaction: moves the item, not committed yet
        await lifecycle.move_many(s, [BulkMove(doc.id, "queued", "sending")], Cause("outbound"))
        keeping = asyncio.create_task(emitter.keep(rec))
        await asyncio.sleep(1.0)
        assert not keeping.done(), "the insert did not wait for the queue's move"
    await asyncio.wait_for(keeping, 20)
    async with db.read() as s:
        state = await s.scalar(
            select(InvoiceResponseRecord.state).where(InvoiceResponseRecord.imr_id == "IMR-RACE-1")
        )
    assert state == rm.SENT_STATE  # the move's state, not the one read before it committed
    await db.dispose()


async def test_a_response_routed_outside_the_server_is_left_pending(tmp_path: Path) -> None:
    """``gateway participants add`` routes with a lifecycle of its own: with the responses'
    listeners attached, the routed response gets its pending row in that transaction, and the
    server's recovery judges it (by the state index)."""
    from gateway.responses import attach
    from gateway.responses.parse import CUSTOMIZATION_ID
    from tests.live_gateway import invoice_response

    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    lifecycle = Lifecycle()
    attach(lifecycle)
    raw = invoice_response("AP", "ROUTED-1", "INV-NOT-YET")
    doc = make_document(
        raw,
        channel="email",
        tenant=None,
        kind="ApplicationResponse",
        customization_id=CUSTOMIZATION_ID,
    )
    lifecycle.begin(doc, "unroutable")
    async with db.write() as s:
        s.add(doc)
        await s.flush()
        await lifecycle.started(s, doc, Cause("system"))  # no tenant: nothing to judge
    async with db.write() as s:
        await repo.ensure_tenant(s, "acme")
        stored = await repo.get_document(s, doc.id, None)
        stored.tenant = "acme"
        await lifecycle.move(s, stored, "received", Cause("participants", "admin"))
    async with db.read() as s:
        states = list(await s.scalars(select(InvoiceResponseRecord.state)))
    assert states == [rm.PENDING]
    assert await ResponseService(db, load_mapping(), lifecycle=lifecycle).sweep() == 1
    async with db.read() as s:
        rec = await s.scalar(select(InvoiceResponseRecord))
    assert rec is not None and rec.state == rm.HELD  # e-mail proves nothing: held for an admin
    await db.dispose()
