"""kill -9 of a real ``gateway serve`` while it sends the Invoice Response a status change owes.

The buyer's tenant (emission on) approves a purchase invoice (``POST .../status``): the move
and the response it owes (``invoice_response_owed``) commit together; the response is built,
validated, and delivered after that commit (locally to the seller's tenant, or through the
outbound queue to the seller's access point) before the client hears back. Each round SIGKILLs
the process at a different moment after that commit (at once, a little later, later still,
after the answer), alternating a seller that is a tenant here and one that is not; the next
round starts the gateway again on the same database. At the end every debt is ``done`` and
each approval sent exactly one response: one ``sent`` row per invoice (distinct IMR ids), one
outbound item per remote seller, one stored copy per local one, and the access point received
each remote response under one id.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from gateway.config import load_settings
from gateway.outbound import OutboundItem
from gateway.responses import InvoiceResponseRecord, ResponseOwed, set_emission
from gateway.store import Database, Document, repo, upgrade
from tests.gateway_process import free_port, serve, serve_config, shared_database, stop
from tests.live_gateway import BUYER, SELLER, Stub, sales_invoice, start_stub
from tests.waiting import until

pytestmark = pytest.mark.slow  # five gateway starts

REMOTE_SELLER = "0196:1234567890"
#: Seconds after the debt is committed at which each round's process is killed (None: after
#: the client's answer, i.e. paid and maybe not yet marked done).
KILL_AFTER = (0.0, 0.05, 0.3, None)
APP_RESPONSE = "ApplicationResponse"


async def _owed(db: Database) -> list[str]:
    """The debts' states, oldest first."""
    async with db.read() as s:
        return list(await s.scalars(select(ResponseOwed.state).order_by(ResponseOwed.created_at)))


async def test_kill_9_while_a_response_is_owed_loses_none_and_sends_none_twice(
    tmp_path: Path, installed_data_dir: Path, corpus_dir: Path
) -> None:
    base = (corpus_dir / "peppol-bis-examples/base-example.xml").read_bytes()
    ap = Stub()
    runner = await start_stub(ap)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log: list[str] = []
    proc: asyncio.subprocess.Process | None = None
    async with shared_database("gw_imr_kill9") as database_url:
        responses = {"responses": ["owed_sweep_interval = 1.0"]}
        config = serve_config(tmp_path, installed_data_dir, port, ap.url, responses, database_url)
        db = Database.from_settings(load_settings(config, env={}))
        await upgrade(db.engine)
        async with db.write() as s:
            _, key = await repo.create_api_key(s, "buyer-co", ("submit", "read", "status"))
            await repo.add_participant(s, "buyer-co", BUYER)
            await repo.create_api_key(s, "seller-co", ("read",))
            await repo.add_participant(s, "seller-co", SELLER)
            await set_emission(s, "buyer-co", True)
        headers = {"Authorization": f"Bearer {key}"}
        invoices: dict[str, str] = {}  # id -> seller
        left: list[bool] = []  # did a round's kill leave its debt unpaid?
        try:
            async with aiohttp.ClientSession(headers=headers) as http:
                for i, after in enumerate(KILL_AFTER):
                    proc = await serve(config, log, url=url)
                    seller = SELLER if i % 2 == 0 else REMOTE_SELLER
                    raw = sales_invoice(base, number=f"K9-{i}", seller=seller, buyer=BUYER)
                    async with http.post(
                        url + "/v1/documents", data=raw, headers={"Content-Type": "application/xml"}
                    ) as r:
                        assert r.status == 201, await r.text()
                        invoice = (await r.json())["id"]
                    invoices[invoice] = seller
                    await _approve_and_kill(http, url, invoice, proc, db, i + 1, after)
                    left.append((await _owed(db))[-1:] == ["pending"])
            proc = await serve(config, log, url=url)

            seen: list[Any] = []

            async def settled() -> bool:
                seen[:] = await _owed(db)
                return len(seen) == len(KILL_AFTER) and set(seen) == {"done"}

            for _ in range(600):  # a debt the killed process held waits for its lease (30 s)
                if await settled():
                    break
                await asyncio.sleep(0.1)
            assert await settled(), (seen, [line for line in log if "owed" in line][-5:])
            assert left[0] and not left[-1], left  # a kill at once left it for the restart
            async with db.read() as s:
                sent = list(
                    await s.scalars(
                        select(InvoiceResponseRecord).where(
                            InvoiceResponseRecord.direction == "sent"
                        )
                    )
                )
                items = await s.scalar(
                    select(func.count())
                    .select_from(OutboundItem)
                    .join(Document, Document.id == OutboundItem.document_id)
                    .where(Document.kind == APP_RESPONSE)
                )
                copies = list(
                    await s.scalars(
                        select(Document.number).where(
                            Document.kind == APP_RESPONSE, Document.channel == "local"
                        )
                    )
                )
            assert sorted(r.invoice_id for r in sent) == sorted(invoices)  # one per approval
            assert len({r.imr_id for r in sent}) == len(sent)
            assert all(r.response_code == "AP" for r in sent)
            remote = [i for i, s in invoices.items() if s == REMOTE_SELLER]
            assert items == len(remote)
            local_ids = {r.imr_id for r in sent if invoices[r.invoice_id] == SELLER}
            assert sorted(copies) == sorted(local_ids)  # one stored copy each
            remote_ids = {r.imr_id for r in sent if invoices[r.invoice_id] == REMOTE_SELLER}

            def delivered() -> set[str]:
                bodies = [b for b in ap.bodies if APP_RESPONSE.encode() in b]
                return {
                    i for i in remote_ids for b in bodies if f"<cbc:ID>{i}</cbc:ID>".encode() in b
                }

            # Wait for every id, not for as many bodies: a resend after the kill is a body too,
            # and counting it ended the wait before the last response had gone (CI, once). A
            # send the killed process had leased waits for its lease (30 s) first.
            await until(lambda: delivered() == remote_ids, 60, "every remote response sent")
            await asyncio.sleep(0.5)
            bodies = [b for b in ap.bodies if APP_RESPONSE.encode() in b]
            got = delivered()
            assert got == remote_ids
            # A resend after a kill is the same message (same IMR id), never a second one.
            assert len(bodies) >= len(remote_ids)
            proc.terminate()
            await proc.wait()
        finally:
            await stop(proc)
            await db.dispose()
            await runner.cleanup()


async def _approve_and_kill(
    http: aiohttp.ClientSession,
    url: str,
    invoice: str,
    proc: asyncio.subprocess.Process,
    db: Database,
    owed: int,
    after: float | None,
) -> None:
    """Approve ``invoice``; SIGKILL ``proc`` ``after`` seconds once the debt is committed."""

    async def approve() -> int:
        async with http.post(
            f"{url}/v1/documents/{invoice}/status", json={"status": "approved"}
        ) as r:
            return r.status

    request = asyncio.create_task(approve())
    if after is None:
        assert await request == 200
    else:
        for _ in range(3000):
            if len(await _owed(db)) >= owed:
                break
            await asyncio.sleep(0.002)
        assert len(await _owed(db)) == owed
        await asyncio.sleep(after)
    proc.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(proc.wait(), 60) == -signal.SIGKILL
    with contextlib.suppress(aiohttp.ClientError, asyncio.CancelledError):
        request.cancel()
        await request
