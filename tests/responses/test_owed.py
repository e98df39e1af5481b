"""Crash-durable Invoice Response emission: what a buyer's status change owes is on record with
the move, and a restart pays it, exactly once (``gateway.owed`` under ``Emitter``).

Three real gateways run one after the other on one database (SQLite, and PostgreSQL when
``GATEWAY_TEST_POSTGRES_URL`` is set), each a loopback server with its own access point:

1. the first commits two approvals of purchase invoices (one from a seller that is a tenant
   here: delivered locally; one from a seller elsewhere: through the outbound queue) but dies,
   as far as emission goes, right after each commit: nothing is sent, two debts are pending;
2. the second pays both at start (the recovery pass) but dies after each delivery (the local
   copy stored, the queue item committed) and before its ``sent`` row is written;
3. the third pays them again.

Then each response exists once: one outbound item for the remote seller (the access points
got one message), one stored copy at the local seller whose sales invoice moved once, one
``sent`` row per approval, every debt done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.outbound import OutboundItem
from gateway.responses import EMITTER, InvoiceResponseRecord, ResponseOwed
from gateway.store import Database, Document, utcnow
from tests.live_gateway import BUYER, SELLER, restarted_gateway, sales_invoice
from tests.waiting import until

#: A seller that is no tenant here: its responses go through the outbound queue.
REMOTE_SELLER = "0196:1234567890"
APP_RESPONSE = "ApplicationResponse"
#: Longer than a failed payment's first backoff (2 s).
LEASE = 3.0


class Died(Exception):
    """Stands for the process dying at a crash point."""


def _emitter(prepare: Any) -> Any:
    """``prepare(emitter)`` as a ``prepare(app)``."""
    return lambda app: prepare(app[EMITTER])


async def _owed(db: Database) -> list[str]:
    async with db.read() as s:
        return sorted(await s.scalars(select(ResponseOwed.state)))


async def _counts(db: Database) -> tuple[int, int, int]:
    """(outbound Invoice Response items, stored local copies, sent rows)."""
    async with db.read() as s:
        items = await s.scalar(
            select(func.count())
            .select_from(OutboundItem)
            .join(Document, Document.id == OutboundItem.document_id)
            .where(Document.kind == APP_RESPONSE)
        )
        local = await s.scalar(
            select(func.count()).where(Document.kind == APP_RESPONSE, Document.channel == "local")
        )
        sent = await s.scalar(select(func.count()).where(InvoiceResponseRecord.direction == "sent"))
    return int(items or 0), int(local or 0), int(sent or 0)


async def _released(db: Database) -> bool:
    """Has each failed payment given its row back (a short backoff instead of the lease)?"""
    async with db.read() as s:
        leases = list(await s.scalars(select(ResponseOwed.lease_until)))
    soon = utcnow() + dt.timedelta(seconds=LEASE)
    return all(x is not None and x.replace(tzinfo=x.tzinfo or dt.UTC) < soon for x in leases)


def _imr_id(raw: bytes) -> str:
    """The response's own id (the first cbc:ID after ProfileID)."""
    return raw.split(b"<cbc:ID>", 1)[1].split(b"<", 1)[0].decode()


async def _died(died: list[str], count: int) -> bool:
    return len(set(died)) >= count


async def test_a_restart_pays_the_responses_a_crash_left_owed_exactly_once(
    tmp_path: Path, store_url: str, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> None:
    base = (corpus_dir / "peppol-bis-examples/base-example.xml").read_bytes()

    def no_after_commit(emitter: Any) -> None:
        emitter.outbox._start = lambda *_: None

    gw, stop = await restarted_gateway(
        tmp_path, "gw1", store_url, validator, aiohttp_server,
        prepare=_emitter(no_after_commit), owed_sweep_interval=3600,
    )  # fmt: skip
    seller, buyer = await gw.key("seller-co"), await gw.key("buyer-co")
    await gw.participant("seller-co", SELLER)
    await gw.participant("buyer-co", BUYER)
    await gw.call("PUT", buyer, "/v1/admin/responses/settings", json={"emit_responses": True})
    sales = await gw.send_invoice(
        seller, sales_invoice(base, number="OW-LOCAL", seller=SELLER, buyer=BUYER)
    )
    local = (await gw.receive(buyer, gw.ap.bodies[-1]))["id"]
    remote_raw = sales_invoice(base, number="OW-REMOTE", seller=REMOTE_SELLER, buyer=BUYER)
    remote = (await gw.receive(buyer, remote_raw))["id"]
    for invoice in (local, remote):
        status, body = await gw.call(
            "POST", buyer, f"/v1/documents/{invoice}/status", json={"status": "approved"}
        )
        assert status == 200, body
    assert await _owed(gw.db) == ["pending", "pending"]
    assert await _counts(gw.db) == (0, 0, 0)
    assert (await gw.doc(seller, sales))["status"] == "delivered"
    await stop()

    # 2. The recovery pass delivers both (a local copy, a queue item) and "dies" before their
    # ``sent`` rows are written: the worst crash point, the payment half done.
    died: list[str] = []

    async def die(rec: Any) -> None:
        died.append(rec.imr_id)
        raise Died(rec.imr_id)

    def dies_before_recording(emitter: Any) -> None:
        emitter.keep = die

    gw2, stop2 = await restarted_gateway(
        tmp_path, "gw2", store_url, validator, aiohttp_server,
        prepare=_emitter(dies_before_recording), owed_sweep_interval=3600,
    )  # fmt: skip
    await until(lambda: _died(died, 2), 60)
    await until(lambda: _released(gw2.db), 60)  # (stopped while releasing, a row keeps its lease)
    assert await _owed(gw2.db) == ["pending", "pending"]
    assert await _counts(gw2.db) == (1, 1, 0)
    await stop2()
    await asyncio.sleep(LEASE)  # the failed payments' backoff (2 s) runs out

    # 3. The next start pays them again: nothing new.
    gw3, stop3 = await restarted_gateway(
        tmp_path, "gw3", store_url, validator, aiohttp_server, owed_sweep_interval=3600
    )

    async def settled() -> bool:
        return await _owed(gw3.db) == ["done", "done"]

    await until(settled, 60)
    assert await _counts(gw3.db) == (1, 1, 2)
    async with gw3.db.read() as s:
        rows = list(
            await s.scalars(
                select(InvoiceResponseRecord).where(InvoiceResponseRecord.direction == "sent")
            )
        )
    assert {r.invoice_id: r.response_code for r in rows} == {local: "AP", remote: "AP"}
    assert {r.invoice_id: r.state for r in rows}[local] == "delivered-locally"
    assert len({r.imr_id for r in rows}) == 2
    sales_doc = await gw3.doc(seller, sales)
    assert sales_doc["status"] == "accepted"
    assert [h["to"] for h in sales_doc["history"]].count("accepted") == 1

    def delivered() -> list[bytes]:
        return [b for g in (gw2, gw3) for b in g.ap.bodies if APP_RESPONSE.encode() in b]

    async def reached_ap() -> bool:
        return len(delivered()) >= 1

    await until(reached_ap, 60)
    await asyncio.sleep(0.3)
    # One response, whichever process's queue sent it (a queue stopped mid-send may send its
    # item again: the same bytes, the same IMR id, recognisable, never a second response).
    (remote_imr,) = [r.imr_id for r in rows if r.invoice_id == remote]
    assert {_imr_id(b) for b in delivered()} == {remote_imr}
    assert all(b"<cbc:ID>OW-REMOTE</cbc:ID>" in b for b in delivered())
    await stop3()
