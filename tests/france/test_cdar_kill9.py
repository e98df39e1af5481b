"""kill -9 of a real ``gateway serve`` right after it accepted a French sales invoice.

The 202 of ``POST /v1/outbound`` comes once the invoice, its queue item and the 200 Déposée it
owes (``cdar_owed``) are committed; the 200 itself is built and queued after that, and the
201 Émise once the buyer's access point has the invoice. Each round SIGKILLs the process right
after the 202 (whatever it was doing: building the 200, sending the invoice, nothing), then
the next round starts it again on the same database. At the end every invoice is delivered,
every debt is ``done``, each invoice has exactly one 200 and one 201 on record and exactly one
outbound item for the state platform's copy of its 200, and the access point received that copy
under one message id per invoice (a resend after a kill is the same message, recognisable).

(Its first run found that under ``gateway serve`` the emitter held the intake's placeholder
validator, so no CDAR was ever built there: the in-process tests share a started one.)
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from gateway.config import load_settings
from gateway.france import CdarOwed, CdarRecord, parse_cdar
from gateway.outbound import OutboundItem
from gateway.store import Database, Document, repo, upgrade
from tests.french_invoices import SELLER_SIREN, french_invoice
from tests.gateway_process import free_port, serve, serve_config, stop
from tests.live_gateway import Stub, start_stub

pytestmark = pytest.mark.slow  # four gateway starts

ROUNDS = 3
CDAR_KIND = "CrossDomainAcknowledgementAndResponse"


async def test_kill_9_after_the_202_loses_no_cdar_and_sends_none_twice(
    tmp_path: Path, installed_data_dir: Path, corpus_dir: Path
) -> None:
    ap = Stub()
    runner = await start_stub(ap)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    france = ['platform_id = "0042"', "owed_sweep_interval = 1.0"]
    config = serve_config(tmp_path, installed_data_dir, port, ap.url, {"france": france})
    db = Database.from_settings(load_settings(config, env={}))
    await upgrade(db.engine)
    async with db.write() as s:
        _, key = await repo.create_api_key(s, "vendeur", ("submit", "read"))
        await repo.add_participant(s, "vendeur", f"0225:{SELLER_SIREN}")
    log: list[str] = []
    proc: asyncio.subprocess.Process | None = None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/xml"}
    try:
        for i in range(ROUNDS):
            proc = await serve(config, log, url=url)
            raw = french_invoice(corpus_dir, number=f"K9-{i}")
            async with (
                aiohttp.ClientSession() as http,
                http.post(url + "/v1/outbound", data=raw, headers=headers) as r,
            ):
                assert r.status == 202, await r.text()
                proc.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(proc.wait(), 60) == -signal.SIGKILL
        proc = await serve(config, log, url=url)

        seen: list[Any] = []

        async def settled() -> bool:
            async with db.read() as s:
                owed = list(await s.scalars(select(CdarOwed.state)))
                sales = list(
                    await s.scalars(
                        select(Document.status).where(
                            Document.direction == "outbound", Document.kind == "Invoice"
                        )
                    )
                )
            seen[:] = [owed, sales]
            return (
                len(owed) == 2 * ROUNDS
                and all(o == "done" for o in owed)
                and sales == ["delivered"] * ROUNDS
            )

        for _ in range(900):  # a debt the killed process was paying waits for its lease (30 s)
            if await settled():
                break
            await asyncio.sleep(0.1)
        assert await settled(), (seen, [line for line in log if "france" in line][-5:])
        async with db.read() as s:
            sent = list(await s.scalars(select(CdarRecord).where(CdarRecord.direction == "sent")))
            items = await s.scalar(
                select(func.count())
                .select_from(OutboundItem)
                .join(Document, Document.id == OutboundItem.document_id)
                .where(Document.kind == CDAR_KIND)
            )
        per_invoice: dict[str, list[tuple[str, str]]] = {}
        for rec in sent:
            per_invoice.setdefault(rec.invoice_id or "", []).append((rec.code or "", rec.receiver))
        assert len(per_invoice) == ROUNDS
        for rows in per_invoice.values():
            assert sorted(rows) == [
                ("200", f"0002:{SELLER_SIREN}"),
                ("200", "0238:0000"),
                ("201", f"0002:{SELLER_SIREN}"),
            ]
        assert items == ROUNDS  # one state-platform copy of each 200
        for _ in range(300):
            copies = [parse_cdar(b) for b in ap.bodies if CDAR_KIND.encode() in b]
            if len({c.message_id for c in copies}) == ROUNDS:
                break
            await asyncio.sleep(0.1)
        assert {c.invoice_number for c in copies} == {f"K9-{i}" for i in range(ROUNDS)}
        assert len({c.message_id for c in copies}) == ROUNDS
        proc.terminate()
        await proc.wait()
    finally:
        await stop(proc)
        await db.dispose()
        await runner.cleanup()
