"""Duplicate elimination in the database: concurrent copies across two gateway instances on one
database give one document and one receipt; a claim left by a stopped process is taken over
without delivering twice (or without losing the document when it was never stored)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from as4int_support import BUYER, SELLER, StartNode, message

from gateway.as4 import parse_signal
from gateway.as4.seen_db import Claim, DbSeenStore
from gateway.config import load_settings
from gateway.store import Database, Document, repo
from gateway.store.migrate import upgrade

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


async def store_document(db: Database, raw: bytes) -> str:
    async with db.write() as s:
        await repo.ensure_tenant(s, "acme")
        doc = Document(
            direction="inbound",
            channel="as4",
            tenant="acme",
            status="received",
            raw=raw,
            sha256=repo.sha256_hex(raw),
            size=len(raw),
            validation_status="accepted",
            report={},
        )
        s.add(doc)
        await s.flush()
        return doc.id


async def test_claim_race_has_one_winner(db: Database):
    stores = [DbSeenStore(db) for _ in range(6)]  # six "processes"
    outcomes = await asyncio.gather(
        *(st.claim(f"m1@{RUN}", f"{SELLER}|i1-{RUN}", "POP2", b"<a/>") for st in stores)
    )
    assert outcomes.count(Claim.CLAIMED) == 1
    assert set(outcomes) <= {Claim.CLAIMED, Claim.BUSY}


async def test_stale_claim_after_stored_document_is_not_delivered_again(db: Database):
    dead, alive = DbSeenStore(db), DbSeenStore(db, stale_after=0.0)
    raw = f"<Invoice>{RUN} stored before the crash</Invoice>".encode()
    assert await dead.claim(f"m2@{RUN}", f"{SELLER}|i2-{RUN}", "POP2", raw) is Claim.CLAIMED
    doc_id = await store_document(db, raw)  # the intake committed, then the process died
    assert await alive.claim(f"m2@{RUN}", f"{SELLER}|i2-{RUN}", "POP2", raw) is Claim.DONE
    await alive.remember(f"m2@{RUN}", f"{SELLER}|i2-{RUN}", b"receipt")
    assert await alive.seen(f"m2@{RUN}") == b"receipt"
    assert await alive.seen_instance(f"{SELLER}|i2-{RUN}")
    from gateway.as4.models import As4InboundMessage

    async with db.read() as s:
        row = await s.get(As4InboundMessage, f"m2@{RUN}")
        assert row is not None and row.document_id == doc_id


async def test_stale_claim_without_document_is_delivered_by_the_next_try(db: Database):
    dead, alive = DbSeenStore(db), DbSeenStore(db, stale_after=0.0)
    raw = f"<Invoice>{RUN} never stored</Invoice>".encode()
    assert await dead.claim(f"m3@{RUN}", f"{SELLER}|i3-{RUN}", "POP2", raw) is Claim.CLAIMED
    fresh = DbSeenStore(db)  # a third process before the claim is stale: must wait
    assert await fresh.claim(f"m3@{RUN}", f"{SELLER}|i3-{RUN}", "POP2", raw) is Claim.BUSY
    assert await alive.claim(f"m3@{RUN}", f"{SELLER}|i3-{RUN}", "POP2", raw) is Claim.CLAIMED


async def test_release_lets_the_retry_deliver(db: Database):
    store = DbSeenStore(db)
    assert await store.claim(f"m4@{RUN}", f"{SELLER}|i4-{RUN}", "POP2", b"<a/>") is Claim.CLAIMED
    await store.release(f"m4@{RUN}", f"{SELLER}|i4-{RUN}")
    other = DbSeenStore(db)
    assert await other.claim(f"m4@{RUN}", f"{SELLER}|i4-{RUN}", "POP2", b"<a/>") is Claim.CLAIMED
