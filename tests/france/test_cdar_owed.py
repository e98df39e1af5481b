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

import aiohttp
import pytest
from french_invoices import BUYER_SIREN, SELLER_SIREN, french_invoice
from live_gateway import Gw, Stub, settings_for, start_stub
from sqlalchemy import func, select

from gateway.france import CDAR_EMITTER, CdarOwed, CdarRecord, parse_cdar
from gateway.outbound import OutboundItem
from gateway.server import create_app
from gateway.store import Database, Document, upgrade

CDAR_KIND = "CrossDomainAcknowledgementAndResponse"
#: The second gateway's lease on a debt: it dies holding it, and the third waits it out.
LEASE = 3.0


class Died(Exception):
    """Stands for the process dying at a crash point."""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    return str(request.getfixturevalue("pg_database"))


async def _gateway(
    tmp_path: Path,
    name: str,
    database_url: str,
    validator: Any,
    aiohttp_server: Any,
    prepare: Any = None,
) -> tuple[Gw, Any, Any]:
    """A gateway on ``database_url`` (``prepare(outbox)`` runs before it starts)."""
    ap = Stub()
    runner = await start_stub(ap)
    extra = {
        "database_url": database_url,
        "france": {
            "platform_id": "0042",
            "platform_name": "Notre PA",
            "owed_sweep_interval": 3600,
        },
    }
    conf = settings_for(tmp_path / name, ap.url, extra)
    if not database_url.startswith("sqlite"):
        db = Database.from_settings(conf)
        await upgrade(db.engine)
        await db.dispose()
    app = create_app(conf, validator=validator)
    if prepare is not None:
        prepare(app[CDAR_EMITTER].outbox)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    http = aiohttp.ClientSession()
    gw = Gw(app, str(server.make_url("")).rstrip("/"), http, ap, b"")
    return gw, server, runner


async def _stop(gw: Gw, server: Any, runner: Any) -> None:
    await gw.http.close()
    await server.close()  # the app's cleanup: its workers and sweeps stop
    await runner.cleanup()


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


async def _until(check: Any, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_restart_pays_what_a_crash_left_owed_exactly_once(
    tmp_path: Path, database_url: str, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> None:
    # 1. Moves committed, the after-commit step never runs (the process "dies" after commit).
    def no_after_commit(outbox: Any) -> None:
        outbox._start = lambda *_: None

    gw, server, runner = await _gateway(
        tmp_path, "gw1", database_url, validator, aiohttp_server, no_after_commit
    )
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
    await _stop(gw, server, runner)

    # 2. The recovery pass queues every debt, and "dies" before marking any of them done.
    died: list[str] = []

    def die(key: str) -> None:
        died.append(key)
        raise Died(key)

    def dies_after_queueing(outbox: Any) -> None:
        outbox.lease, outbox.after_pay = LEASE, die

    gw2, server2, runner2 = await _gateway(
        tmp_path, "gw2", database_url, validator, aiohttp_server, dies_after_queueing
    )
    await _until(lambda: _sweep_all(gw2.app[CDAR_EMITTER].outbox, died))
    assert await _owed(gw2.db) == [(c, "pending") for c in ("200", "201", "210", "213")]
    queued = await _cdar_items(gw2.db)
    # 210 and 213 go to the seller and to the state platform; 200 to the state platform
    # (the seller's own platform keeps 200 and 201 on the invoice).
    assert queued == 5
    await _stop(gw2, server2, runner2)
    await asyncio.sleep(LEASE)  # the dead process's leases run out

    # 3. The next start finds them pending and pays them again: nothing new is queued.
    gw3, server3, runner3 = await _gateway(tmp_path, "gw3", database_url, validator, aiohttp_server)

    async def settled() -> bool:
        return all(state == "done" for _, state in await _owed(gw3.db))

    await _until(settled)
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

    await _until(all_delivered)
    await asyncio.sleep(0.3)
    # A queue stopped mid-send may send an item again: the same message (same id), never a
    # second one.
    messages = {m.message_id: m for m in (parse_cdar(b) for b in delivered())}
    assert len(messages) == 5
    assert sum(m.for_state_platform for m in messages.values()) == 3
    await _stop(gw3, server3, runner3)


async def _sweep_all(outbox: Any, died: list[str]) -> bool:
    """Run the sweep until each of the four debts has reached the crash point once."""
    with contextlib.suppress(Died):
        await outbox.sweep()
    return len(set(died)) == 4
