"""A received message's reads before its write transaction are point reads.

The duplicate checks (MessageId, SBDH instance), the tenant of the receiver and its registered
country each cost a read transaction before (~9 driver hops, 2.5-3 ms of CPU on the shared VM);
now each is one statement on the point-read connection (``gateway.store.lookups``), and the
only transaction of a new message is the intake's write. A copy of the same message is still
answered with the stored receipt from the same point read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from gateway.store import Database
from tests.as4_integration.as4int_support import BUYER, StartNode, message
from tests.as4_integration.as4int_support import post_as4 as post


@contextmanager
def statements(db: Database) -> Iterator[dict[str, list[str]]]:
    """Statements per engine: ``write``, ``read`` (the async read engine), ``point``."""
    named = {db.engine.sync_engine: "write", db.read_engine.sync_engine: "read"}
    for engine in db.sync_engines():
        named.setdefault(engine, "point")
    seen: dict[str, list[str]] = {"write": [], "read": [], "point": []}
    listeners = []
    for engine, name in named.items():

        def on(conn: Any, cursor: Any, sql: str, *args: Any, _name: str = name) -> None:
            seen[_name].append(" ".join(sql.split()))

        event.listen(engine, "before_cursor_execute", on)
        listeners.append((engine, on))
    try:
        yield seen
    finally:
        for engine, on in listeners:
            event.remove(engine, "before_cursor_execute", on)


#: The tables of the four reads before a message's write transaction.
POINT_READ = (
    "as4_inbound_messages",
    "as4_inbound_instances",
    "participants",
    "peppol_end_user_countries",
)


def tables(sql: list[str]) -> list[str]:
    return [m.group(1) for s in sql if (m := re.match(r"SELECT .*? FROM (\w+)", s))]


async def test_a_new_message_reads_by_point_reads_and_writes_once(
    start_node: StartNode, peer_party: Any, gateway_party: Any, invoice: bytes
) -> None:
    node = await start_node("ours", "POP000001")
    await node.serve("acme", BUYER)
    warm = message(peer_party, gateway_party, invoice, instance_id="reads-0")
    assert (await post(node, warm))[0] == 200  # first use: validators, caches, pools
    msg = message(
        peer_party, gateway_party, invoice.replace(b"Snippet1", b"Snippet2"), instance_id="reads-1"
    )
    with statements(node.db) as seen:
        status, first = await post(node, msg)
    assert status == 200 and msg.message_id.encode() in first  # a receipt for it
    # (The app's background work - the outbound worker, the MLS outbox - runs meanwhile, so
    # only the statements of this message's tables are looked at.)
    assert not set(tables(seen["read"])) & set(POINT_READ), seen["read"]
    assert tables(seen["point"]) == list(POINT_READ), seen["point"]
    assert [s for s in seen["write"] if s.startswith("INSERT INTO documents ")] != []
    assert [s for s in seen["write"] if "FROM as4_inbound" in s] == []  # claimed by inserts
    assert [d.status for d in await node.documents()] == ["received", "received"]

    # The same message again: the point read finds its receipt; nothing is written.
    with statements(node.db) as seen:
        status, again = await post(node, msg)
    assert status == 200 and msg.message_id.encode() in again
    assert not [s for s in seen["write"] if "as4_inbound" in s or "INTO documents " in s], seen
    assert not set(tables(seen["read"])) & set(POINT_READ), seen["read"]
    assert tables(seen["point"]) == ["as4_inbound_messages"]
    assert len(await node.documents()) == 2
