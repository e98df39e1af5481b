"""A lifecycle message decided after it was stored changes its flow: the Flow API shows it.

The buyer's 205 (the official CDAR example) arrives while the sales invoice it concerns is
still in the outbound queue (the buyer's access point answers 503): it waits, and its flow is
``Pending``. When the access point takes the invoice, the 205 applies; its flow's
acknowledgement becomes ``Ok``, its ``updatedAt`` moves (a client polling with
``updatedAfter`` sees it) and a signed webhook callback announces it, in the decision's
transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.france.flow import verify
from tests.france.flow.client import (
    BUYER,
    NUMBER,
    SELLER,
    cdar_example,
    get_flow,
    search,
    submit,
)
from tests.french_invoices import french_invoice
from tests.live_gateway import Stub, start_stub
from tests.waiting import until


@pytest.fixture
async def flaky() -> AsyncIterator[Stub]:
    """An access point that answers 503 until the test makes it answer 202."""
    ap = Stub(status=503)
    runner = await start_stub(ap)
    yield ap
    await runner.cleanup()


async def test_a_cdar_decided_later_moves_its_flow_and_is_announced(
    gw_factory: Any, corpus_dir: Path, flaky: Stub
) -> None:
    gw = await gw_factory(
        settings={
            "routes": [{"participant": "*", "url": flaky.url + "/ap"}],
            "outbound": {"max_attempts": 1000},
        }
    )
    key = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER}")
    await gw.participant("vendeur", f"0225:{BUYER}")  # both parties: a REST CDAR is trusted
    hooks = f"{gw.url}/afnor/flow-service/v1/webhooks"
    lc = {"callbackUrl": gw.ap.url + "/lc", "flowTypes": ["CustomerInvoiceLC"]}
    async with gw.http.post(hooks, json=lc, headers={"Authorization": f"Bearer {key}"}) as r:
        assert r.status == 201
        hook = await r.json()
    invoice = french_invoice(
        corpus_dir, number=NUMBER, issue_date="2025-07-01", seller_siren=SELLER, buyer_siren=BUYER
    )
    status, sent = await gw.call("POST", key, "/v1/outbound", xml=invoice)
    assert status == 202, sent

    async def retrying() -> bool:
        return (await gw.doc(key, sent["id"]))["status"] == "retrying"

    await until(retrying, 15)
    status, body = await submit(
        gw, key, cdar_example(corpus_dir, "5"), {"name": "205.xml", "flowSyntax": "CDAR"}
    )
    assert status == 202, body
    flow_id = body["flowId"]
    status, waiting, _ = await get_flow(gw, key, flow_id)
    assert waiting["acknowledgement"]["status"] == "Pending", waiting

    def callbacks() -> list[dict[str, Any]]:
        out = []
        for raw, headers in zip(gw.ap.bodies, gw.ap.headers, strict=True):
            if "Afnor-Signature" in headers:
                assert verify(
                    hook["signingKey"],
                    raw,
                    headers["Afnor-Signature-Timestamp"],
                    headers["Afnor-Signature"],
                )
                out.append(json.loads(raw))
        return [f for f in out if f["flowId"] == flow_id]

    async def announced(n: int) -> bool:
        return len(callbacks()) >= n

    await until(lambda: announced(1), 15)
    assert [f["acknowledgement"]["status"] for f in callbacks()] == ["Pending"]
    assert (await gw.doc(key, sent["id"]))["status"] in ("sending", "retrying")  # in the queue

    flaky.status = 202  # the invoice leaves the queue: the 205 applies now

    async def accepted() -> bool:
        return (await gw.doc(key, sent["id"]))["canonical_status"] == "accepted"

    await until(accepted, 15)
    status, applied, _ = await get_flow(gw, key, flow_id)
    assert applied["acknowledgement"] == {"status": "Ok"}, applied
    assert applied["updatedAt"] > waiting["updatedAt"]
    status, found = await search(gw, key, {"where": {"updatedAfter": waiting["updatedAt"]}})
    assert flow_id in {r["flowId"] for r in found["results"]}
    await until(lambda: announced(2), 15)
    await asyncio.sleep(0.3)
    late = callbacks()
    assert [f["acknowledgement"]["status"] for f in late] == ["Pending", "Ok"]
    assert late[1]["updatedAt"] == applied["updatedAt"]
