"""Duplicate elimination in the database: concurrent copies across two gateway instances on one
database give one document and one receipt; the message-id claim commits with the document in
one transaction (nothing of a rolled-back try is on record), a second copy is refused, and a
claim left by an older version is taken over. The kill -9 test is test_receipt_kill9.py."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway.as4 import AlreadyDelivered, As4InboundMessage, Claim, DbSeenStore, parse_signal
from gateway.config import load_settings
from gateway.store import Database, Document, repo, upgrade
from tests.as4_integration.as4int_support import BUYER, SELLER, StartNode, message
from tests.factories import make_document

#: Keys unique per run: a shared PostgreSQL keeps rows of earlier runs.
RUN = uuid.uuid4().hex[:12]


async def test_concurrent_copies_on_two_gateways_give_one_document_and_one_receipt(
    start_node: StartNode, peer_party: Any, gateway_party: Any, invoice: bytes
):
    # Same data_dir -> same SQLite file: two gateway instances sharing one database.
    one = await start_node("ours", "POP000001")
    two = await start_node("ours", "POP000001")
    await one.serve("acme", BUYER)
    msg = message(peer_party, gateway_party, invoice, instance_id="inst-race")
    body, boundary = msg.get_request_data()
    headers = msg.get_http_headers(boundary)

    async def post(node: Any) -> tuple[int, bytes]:
        async with node.http.post(node.url + "/as4", data=body, headers=headers) as resp:
            return resp.status, await resp.read()

    answers = await asyncio.gather(*(post(n) for n in [one, two] * 4))
    assert {status for status, _ in answers} == {200}
    receipts = {answer for _, answer in answers}
    assert len(receipts) == 1  # every copy got the one stored receipt
    signal, _ = parse_signal(receipts.pop())
    assert signal.is_receipt and signal.ref_to_message_id == msg.message_id
    docs = await one.documents()
    assert len(docs) == 1 and docs[0].status == "received"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    overrides: dict[str, Any] = {"data_dir": str(tmp_path)}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    database = Database.from_settings(load_settings(env={}, overrides=overrides))
    await upgrade(database.engine)
    yield database
    await database.dispose()


def hashes(raws: list[bytes]) -> list[str]:
    return [repo.sha256_hex(r) for r in raws]


async def add_document(s: Any, raw: bytes) -> str:
    await repo.ensure_tenant(s, "acme")
    doc = make_document(raw, channel="as4")
    s.add(doc)
    await s.flush()
    return doc.id


async def test_record_commits_with_the_transaction_or_not_at_all(db: Database):
    store = DbSeenStore(db)
    mid, key = f"m1@{RUN}", f"{SELLER}|i1-{RUN}"
    raw = f"<Invoice>{RUN} one</Invoice>".encode()

    class Crash(Exception):
        pass

    with pytest.raises(Crash):  # the process died before the commit: nothing is on record
        async with db.write() as s:
            doc_id = await add_document(s, raw)
            await store.record(s, mid, key, b"receipt-1", doc_id)
            raise Crash
    assert await store.seen(mid) is None and not await store.seen_instance(key)
    async with db.write() as s:  # the retry is processed like the first try
        doc_id = await add_document(s, raw)
        await store.record(s, mid, key, b"receipt-1", doc_id, "POP2")
    store.committed(mid, b"receipt-1")
    assert await store.remember(mid, key, b"receipt-1") == b"receipt-1"
    assert await store.seen(mid) == b"receipt-1" and await store.seen_instance(key)
    async with db.read() as s:
        row = await s.get(As4InboundMessage, mid)
        assert row is not None and (row.document_id, row.from_party) == (doc_id, "POP2")


async def test_a_second_record_of_a_message_or_instance_is_refused(db: Database):
    first, other = DbSeenStore(db), DbSeenStore(db)  # two processes
    mid, key = f"m2@{RUN}", f"{SELLER}|i2-{RUN}"
    raws = [f"<{tag}>{RUN}</{tag}>".encode() for tag in ("a", "b", "c")]
    async with db.write() as s:
        await first.record(s, mid, key, b"receipt-2", await add_document(s, raws[0]))
    with pytest.raises(AlreadyDelivered):  # the same MessageId again
        async with db.write() as s:
            await other.record(s, mid, key, b"other", await add_document(s, raws[1]))
    with pytest.raises(AlreadyDelivered):  # the same SBDH instance under a new MessageId
        async with db.write() as s:
            await other.record(s, f"m2b@{RUN}", key, b"other", await add_document(s, raws[2]))
    # Nothing was stored by the refused copies; each gets a receipt on record.
    assert await other.remember(mid, key, b"other") == b"receipt-2"
    assert await other.remember(f"m2b@{RUN}", key, b"new-id") == b"new-id"
    async with db.read() as s:
        docs = list(await s.scalars(select(Document.raw).where(Document.sha256.in_(hashes(raws)))))
    assert [bytes(r) for r in docs] == raws[:1]


async def test_a_batch_of_claims_is_settled_claim_by_claim(db: Database):
    """``record_many`` (the group commit's form): two statements for the whole batch, and each
    claim gets the answer ``record`` alone would give it - a repeat inside the batch and a
    MessageId or instance on record already are refused, the others are claimed."""
    store = DbSeenStore(db)
    key = lambda n: f"{SELLER}|batch{n}-{RUN}"  # noqa: E731
    mid = lambda n: f"batch{n}@{RUN}"  # noqa: E731
    async with db.write() as s:  # on record before the batch: message 2, instance 3
        await store.record(
            s, mid(2), key(2), b"r2", await add_document(s, b"<x>" + mid(2).encode())
        )
        await store.record(
            s, mid(3), key(3), b"r3", await add_document(s, b"<x>" + mid(3).encode())
        )
    async with db.write() as s:
        doc = {n: await add_document(s, f"<batch>{n} {RUN}</batch>".encode()) for n in range(1, 7)}
        claims = [
            Claim(mid(1), key(1), b"new-1", doc[1], "POP1"),
            Claim(mid(1), key(5), b"copy", doc[5]),  # the same MessageId, earlier in the batch
            Claim(mid(2), key(6), b"again", doc[2]),  # MessageId on record
            Claim(f"other{RUN}", key(3), b"again", doc[3]),  # instance on record
            Claim(mid(4), key(1), b"copy", doc[6]),  # the same instance, earlier in the batch
            Claim(mid(4) + "x", key(4), b"new-4", doc[4]),
        ]
        refused = await store.record_many(s, claims)
    assert [type(r).__name__ if r else None for r in refused] == [
        None,
        "AlreadyDelivered",
        "AlreadyDelivered",
        "AlreadyDelivered",
        "AlreadyDelivered",
        None,
    ]
    assert await store.seen(mid(1)) == b"new-1" and await store.seen(mid(4) + "x") == b"new-4"
    assert await store.seen(mid(2)) == b"r2"  # the one on record is left as it was
    # (The rows a refused claim may have inserted go with its unit: the intake rolls it back.)
    async with db.read() as s:
        row = await s.get(As4InboundMessage, mid(1))
        assert row is not None and (row.document_id, row.from_party) == (doc[1], "POP1")


async def test_concurrent_records_have_one_winner(db: Database):
    """Six processes commit the same message at once, or the same SBDH instance under six
    MessageIds: the primary keys and conditional updates let exactly one through (each
    statement on PostgreSQL sees what committed before it, so a copy that looked too early
    must still lose). Several rounds, as a race shows itself only sometimes."""
    for n in range(4):
        key = f"{SELLER}|i3-{n}-{RUN}"
        raw = f"<a3>{n} {RUN}</a3>".encode()

        async def attempt(k: int, key: str = key, raw: bytes = raw, n: int = n) -> str:
            store = DbSeenStore(db)
            mid = f"m3-{n}@{RUN}" if n % 2 == 0 else f"m3-{n}-{k}@{RUN}"
            try:
                async with db.write() as s:
                    await store.record(s, mid, key, f"r{k}".encode(), await add_document(s, raw))
            except (AlreadyDelivered, IntegrityError):
                return "lost"
            return "won"

        outcomes = await asyncio.gather(*(attempt(k) for k in range(6)))
        assert outcomes.count("won") == 1, (n, outcomes)
        async with db.read() as s:
            stored = select(func.count()).where(Document.sha256 == repo.sha256_hex(raw))
            assert await s.scalar(stored) == 1


async def test_a_claim_left_by_an_older_version_is_taken_over(db: Database):
    """Versions before the one-transaction receipt claimed before delivery (``delivering``)."""
    mid, key = f"m4@{RUN}", f"{SELLER}|i4-{RUN}"
    async with db.write() as s:
        s.add(As4InboundMessage(message_id=mid, instance_key=key, state="delivering"))
    store = DbSeenStore(db)
    async with db.write() as s:
        doc_id = await add_document(s, b"<a4/>")
        await store.record(s, mid, key, b"receipt-4", doc_id)
    assert await store.seen(mid) == b"receipt-4"


async def test_a_new_message_is_claimed_in_two_statements(db: Database):
    """The claim of a new message (every message but a retry) is two inserts that do nothing
    on a conflict, not a look at each claim (twice) and then the inserts: six statements per
    message in the one write transaction, a third of the channel's CPU per message."""
    from sqlalchemy import event

    store = DbSeenStore(db)
    mid, key = f"m5@{RUN}", f"{SELLER}|i5-{RUN}"
    seen: list[str] = []

    def on_statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql.split()[0])

    async with db.write() as s:
        doc_id = await add_document(s, f"<a5>{RUN}</a5>".encode())
        event.listen(db.engine.sync_engine, "before_cursor_execute", on_statement)
        try:
            await store.record(s, mid, key, b"receipt-5", doc_id, "POP5")
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", on_statement)
    assert seen == ["INSERT", "INSERT"]
    assert await store.seen(mid) == b"receipt-5" and await store.seen_instance(key)
    with pytest.raises(AlreadyDelivered):  # and a copy still finds both claims taken
        async with db.write() as s:
            await store.record(s, mid, key, b"other", await add_document(s, b"<a5b/>"))
