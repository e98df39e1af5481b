"""Crash-durable MLS answers: the MLS a received invoice is owed is on record with the document
(``gateway.owed`` under ``gateway.as4.MlsOutbox``), and restarts pay it exactly once.

A (POP000001) sends invoices to B (POP000002) over AS4 on loopback, asking for an MLS. B is
three real gateway apps, one after the other, on one SQLite database and one port:

1. B1 stores two invoices and sends their receipts, but dies, as far as the MLS goes, right
   after each commit: two owed MLS are pending, none is queued;
2. B2 pays them at start from the store (the recovery pass: the stored status and validation
   report, no second validation) but dies after queueing the first MLS and before settling its
   row (its lease still held), and before it reaches the second;
3. B3 takes both over (the recovery pass, once the dead worker's lease ran out) and answers a
   third invoice live, from the report in memory (``run(key, pay=...)``).

Then every invoice has one MLS item at B (the queue's idempotency key absorbed B3's second
payment of the first), every row is ``queued`` after one or two attempts, and each of A's
invoices moved to ``delivered_to_recipient`` by exactly one MLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.as4 import As4MlsOutbox
from gateway.channels import AS4
from gateway.inbound import renumber
from gateway.outbound import OutboundItem
from gateway.server import create_app
from gateway.store import Document
from tests.as4_integration.as4int_support import (
    BUYER,
    Node,
    StartNode,
    free_port,
    node_settings,
    send,
)
from tests.waiting import until

#: B2's lease on a row it takes (the default is 30 s): how long B3 waits for a dead worker.
LEASE = 2.0


class Died(Exception):
    """Stands for B2 dying between queueing an MLS and settling its row."""


async def _owed(node: Node) -> list[tuple[str, int]]:
    async with node.db.read() as s:
        rows = await s.scalars(select(As4MlsOutbox).order_by(As4MlsOutbox.created_at))
        return [(r.state, r.attempts) for r in rows]


async def _mls_items(node: Node) -> int:
    async with node.db.read() as s:
        count = await s.scalar(
            select(func.count())
            .select_from(OutboundItem)
            .where(OutboundItem.idempotency_key.like("mls:%"))
        )
    return int(count or 0)


async def _status(node: Node, doc_id: str) -> str:
    async with node.db.read() as s:
        return str(await s.scalar(select(Document.status).where(Document.id == doc_id)))


async def test_restarts_pay_the_mls_a_crash_left_owed_exactly_once(
    tmp_path: Path,
    start_node: StartNode,
    pem_dir: Path,
    validator: Any,
    aiohttp_server: Any,
    invoice: bytes,
) -> None:
    port_a, port_b = free_port(), free_port()
    to = {"transport": "as4", "participant": "0002:*"}
    a = await start_node(
        "ours",
        "POP000001",
        port=port_a,
        routes=[
            to | {"url": f"http://127.0.0.1:{port_b}/as4", "certificate": f"{pem_dir}/peer.crt"}
        ],
    )
    back = {"transport": "as4", "participant": "0242:*", "url": f"http://127.0.0.1:{port_a}/as4"}
    b_routes = [back | {"certificate": str(pem_dir / "ours.crt")}]

    async def start_b(prepare: Callable[[Any], None]) -> tuple[Node, Callable[[], Awaitable[None]]]:
        """One of B's lives: the same data dir and port each time (a restart)."""
        settings = node_settings(
            tmp_path, pem_dir, "peer", "POP000002", port_b, b_routes, mls_sweep_interval=3600.0
        )
        app = create_app(settings, validator=validator)
        prepare(app[AS4])
        server = await aiohttp_server(app, host="127.0.0.1", port=port_b)
        node = Node(app, str(server.make_url("")).rstrip("/"), a.http)
        return node, server.close

    seller = await a.key("seller", "submit", "read")

    # 1. B1 commits two invoices and their owed MLS, then "dies" before paying them.
    def dies_after_commit(channel: Any) -> None:
        async def dead(*_: Any) -> None:
            return None

        channel._answer = dead

    b1, stop_b1 = await start_b(dies_after_commit)
    await b1.serve("buyer", BUYER)
    sent = [await send(a, seller, renumber(invoice, f"MLS-OWED-{i}")) for i in range(2)]

    async def receipted() -> bool:
        return [await _status(a, d) for d in sent] == ["delivered"] * 2

    await until(receipted, 20)
    assert await _owed(b1) == [("pending", 0), ("pending", 0)]
    assert await _mls_items(b1) == 0
    await stop_b1()

    # 2. B2's recovery pass queues the first MLS from the store and dies before settling it.
    died: list[str] = []

    def dies_after_queueing(channel: Any) -> None:
        def die(key: str) -> None:
            died.append(key)
            raise Died(key)

        channel.outbox.owed.after_pay = die
        channel.outbox.owed.lease = LEASE

    b2, stop_b2 = await start_b(dies_after_queueing)

    async def b2_died() -> bool:
        return len(died) == 1

    await until(b2_died, 20)
    assert await _mls_items(b2) == 1
    assert await _owed(b2) == [("pending", 1), ("pending", 0)]
    await stop_b2()
    await asyncio.sleep(LEASE + 0.5)  # the dead worker's lease runs out

    # 3. B3 pays both again (the first is queued already: the same item) and a third live.
    b3, stop_b3 = await start_b(lambda channel: None)

    async def settled() -> bool:
        return [s for s, _ in await _owed(b3)] == ["queued"] * 2

    await until(settled, 20)
    assert await _owed(b3) == [("queued", 2), ("queued", 1)]
    assert await _mls_items(b3) == 2
    sent.append(await send(a, seller, renumber(invoice, "MLS-OWED-LIVE")))

    async def answered() -> bool:
        return [await _status(a, d) for d in sent] == ["delivered_to_recipient"] * 3

    await until(answered, 60)
    assert await _owed(b3) == [("queued", 2), ("queued", 1), ("queued", 1)]
    assert await _mls_items(b3) == 3
    for doc_id in sent:  # each invoice moved by one MLS
        moves = [h for h in await a.history(doc_id) if h.source == "mls"]
        assert [h.to_status for h in moves] == ["delivered_to_recipient"], moves
    await stop_b3()


async def test_the_channel_closes_after_the_owed_loop_that_pays_over_it_ended(
    tmp_path: Path, pem_dir: Path, validator: Any, aiohttp_server: Any
) -> None:
    """The AS4 channel's close was a cleanup context of its own, run before the owed loop
    stopped (aiohttp runs cleanups in reverse): a sweep could be paying an MLS over a closed
    sender. Now the loop ends first, then the channel closes."""
    settings = node_settings(tmp_path, pem_dir, "peer", "POP000002", free_port(), [])
    app = create_app(settings, validator=validator)
    channel = app[AS4]
    close_receiver = channel.receiver.aclose
    loops_running_at_close: list[list[str]] = []

    async def recording_close() -> None:
        running = [t.get_name() for t in asyncio.all_tasks()]  # not done yet
        loops_running_at_close.append([n for n in running if n.startswith("owed-")])
        await close_receiver()

    channel.receiver.aclose = recording_close
    server = await aiohttp_server(app, host="127.0.0.1")
    assert any(t.get_name().startswith("owed-") for t in asyncio.all_tasks()), "no owed loop"
    await server.close()
    assert loops_running_at_close == [[]]
