"""Crash-durable CDAR emission (issue 20): what a move owes is on record with the move, and a
restart pays it, exactly once.

Three real gateways run one after the other on one database (SQLite, and PostgreSQL when
``GATEWAY_TEST_POSTGRES_URL`` is set), each a loopback server with its own stand-in access
point:

1. the first commits the moves (a refusal 210, a DOUBLON 213, a French sales invoice queued
   and delivered: 200 and 201) but dies, as far as emission goes, right after each commit: its
   after-commit step never runs. Nothing was sent; four debts are pending;
2. the second pays every debt at start (the recovery pass) but dies after queueing each one
   and before marking it done (the crash point of "queued but not settled"; its leases run
   out as a dead process's do);
3. the third finds the four debts still pending and pays them again.

Then each owed message is one outbound item (the mandatory copies for the state platform
included), each ``sent`` row is there once, every debt is done, and the access points received
each CDAR once.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.france import CDAR_EMITTER, CdarOwed, CdarRecord, parse_cdar
from gateway.outbound import OutboundItem
from gateway.store import Database, Document
from tests.french_invoices import BUYER_SIREN, SELLER_SIREN, french_invoice
from tests.live_gateway import restarted_gateway
from tests.waiting import until

CDAR_KIND = "CrossDomainAcknowledgementAndResponse"
#: The second gateway's lease on a debt: it dies holding it, and the third waits it out.
LEASE = 3.0


class Died(Exception):
    """Stands for the process dying at a crash point."""


#: The France settings of every gateway here (the sweep is the recovery pass at start only).
FRANCE = {
    "france": {"platform_id": "0042", "platform_name": "Notre PA", "owed_sweep_interval": 3600}
}


def _outbox(prepare: Any) -> Any:
    """``prepare(outbox)`` as a ``prepare(app)``."""
    return lambda app: prepare(app[CDAR_EMITTER].outbox)


async def _owed(db: Database) -> list[tuple[str, str]]:
    async with db.read() as s:
        rows = (await s.execute(select(CdarOwed.code, CdarOwed.state))).all()
    return sorted((r.code, r.state) for r in rows)


async def _cdar_items(db: Database) -> int:
    async with db.read() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(OutboundItem)
                .join(Document, Document.id == OutboundItem.document_id)
                .where(Document.kind == CDAR_KIND)
            )
            or 0
        )


async def test_a_restart_pays_what_a_crash_left_owed_exactly_once(
    tmp_path: Path, store_url: str, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> None:
    # 1. Moves committed, the after-commit step never runs (the process "dies" after commit).
    def no_after_commit(outbox: Any) -> None:
        outbox._start = lambda *_: None

    gw, stop = await restarted_gateway(
        tmp_path, "gw1", store_url, validator, aiohttp_server,
        settings=FRANCE, prepare=_outbox(no_after_commit),
    )  # fmt: skip
    buyer = await gw.key("acheteur")
    await gw.participant("acheteur", f"0225:{BUYER_SIREN}")
    seller = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER_SIREN}")
    refused = (await gw.receive(buyer, french_invoice(corpus_dir, number="F-900")))["id"]
    code, body = await gw.call(
        "POST",
        buyer,
        f"/v1/documents/{refused}/status",
        json={"status": "rejected", "reason": "TX_TVA_ERR: Taux de TVA erroné"},
    )
    assert code == 200, body
    await gw.receive(buyer, french_invoice(corpus_dir, number="F-901"))
    copy = await gw.receive(buyer, french_invoice(corpus_dir, number="F-901", rate="10"))
    assert copy["status"] == "duplicate"
    sales = await gw.send_invoice(seller, french_invoice(corpus_dir, number="F-902"))
    db = gw.db
    assert await _owed(db) == [
        ("200", "pending"),
        ("201", "pending"),
        ("210", "pending"),
        ("213", "pending"),
    ]
    assert await _cdar_items(db) == 0
    sent_by_first = [b for b in gw.ap.bodies if CDAR_KIND.encode() in b]
    assert sent_by_first == []
    await stop()

    # 2. The recovery pass queues every debt, and "dies" before marking any of them done.
    died: list[str] = []

    def die(key: str) -> None:
        died.append(key)
        raise Died(key)

    def dies_after_queueing(outbox: Any) -> None:
        outbox.lease, outbox.after_pay = LEASE, die

    gw2, stop2 = await restarted_gateway(
        tmp_path, "gw2", store_url, validator, aiohttp_server,
        settings=FRANCE, prepare=_outbox(dies_after_queueing),
    )  # fmt: skip
    await until(lambda: _sweep_all(gw2.app[CDAR_EMITTER].outbox, died), 60)
    assert await _owed(gw2.db) == [(c, "pending") for c in ("200", "201", "210", "213")]
    queued = await _cdar_items(gw2.db)
    # 210 and 213 go to the seller and to the state platform; 200 to the state platform
    # (the seller's own platform keeps 200 and 201 on the invoice).
    assert queued == 5
    await stop2()
    await asyncio.sleep(LEASE)  # the dead process's leases run out

    # 3. The next start finds them pending and pays them again: nothing new is queued.
    gw3, stop3 = await restarted_gateway(
        tmp_path, "gw3", store_url, validator, aiohttp_server, settings=FRANCE
    )

    async def settled() -> bool:
        return all(state == "done" for _, state in await _owed(gw3.db))

    await until(settled, 60)
    assert await _cdar_items(gw3.db) == 5
    async with gw3.db.read() as s:
        rows = list(await s.scalars(select(CdarRecord).where(CdarRecord.direction == "sent")))
    assert len({r.message_id for r in rows}) == len(rows) == 7
    assert sorted((r.code, r.receiver) for r in rows) == sorted(
        [
            ("200", f"0002:{SELLER_SIREN}"),
            ("200", "0238:0000"),
            ("201", f"0002:{SELLER_SIREN}"),
            ("210", f"0002:{SELLER_SIREN}"),
            ("210", "0238:0000"),
            ("213", f"0002:{SELLER_SIREN}"),
            ("213", "0238:0000"),
        ]
    )
    assert {r.invoice_id for r in rows if r.code in ("200", "201")} == {sales}
    assert {r.invoice_id for r in rows if r.code == "210"} == {refused}
    assert {r.invoice_id for r in rows if r.code == "213"} == {copy["id"]}

    # Each queued CDAR reached an access point once (whichever process's queue sent it).
    def delivered() -> list[bytes]:
        return [b for g in (gw2, gw3) for b in g.ap.bodies if CDAR_KIND.encode() in b]

    async def all_delivered() -> bool:
        return len(delivered()) >= 5

    await until(all_delivered, 60)
    await asyncio.sleep(0.3)
    # A queue stopped mid-send may send an item again: the same message (same id), never a
    # second one.
    messages = {m.message_id: m for m in (parse_cdar(b) for b in delivered())}
    assert len(messages) == 5
    assert sum(m.for_state_platform for m in messages.values()) == 3
    await stop3()


async def _sweep_all(outbox: Any, died: list[str]) -> bool:
    """Run the sweep until each of the four debts has reached the crash point once."""
    with contextlib.suppress(Died):
        await outbox.sweep()
    return len(set(died)) == 4
