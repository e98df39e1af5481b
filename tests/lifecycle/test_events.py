"""Moves through the HTTP API: history names tenant and key, webhook events by type, the
pull inbox lists new documents only, documents without a workflow refuse moves."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway.store import repo
from tests.lifecycle.lifecycle_support import BUYER, SELLER, response
from tests.live_gateway import sales_invoice


async def events(gw: Any, wanted: int, timeout: float = 15) -> list[tuple[dict, dict]]:
    """Webhook calls received by the stub (path /hook): (headers, JSON body)."""
    for _ in range(int(timeout / 0.05)):
        got = [
            (h, json.loads(b))
            for h, b in zip(gw.ap.headers, gw.ap.bodies, strict=True)
            if "X-Gateway-Event" in h
        ]
        if len(got) >= wanted:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {wanted} webhook events, got {len(got)}")


async def test_status_change_event_and_history(gw_factory: Any) -> None:
    gw = await gw_factory()
    async with gw.db.write() as s:
        await repo.set_webhook(s, "buyer-co", gw.ap.url + "/hook")
    key = await gw.key("buyer-co", "submit", "read", "status")
    raw = sales_invoice(gw.base_invoice, number="P-1", seller=SELLER, buyer=BUYER)
    doc = await gw.receive(key, raw)
    ((headers, received),) = await events(gw, 1)
    assert headers["X-Gateway-Event"] == received["event"] == "document.received"
    assert "content_base64" in received

    status, body = await gw.call(
        "POST", key, f"/v1/documents/{doc['id']}/status", json={"status": "approved"}
    )
    assert status == 200, body
    got = await events(gw, 2)
    headers, changed = got[-1]
    assert headers["X-Gateway-Event"] == changed["event"] == "document.status_changed"
    assert "content_base64" not in changed  # no body unless the tenant asks for it
    assert changed["change"]["to"] == "approved"
    assert changed["change"]["source"] == "api"
    key_id = key.split("_")[1]
    assert changed["change"]["key_id"] == key_id

    body = await gw.doc(key, doc["id"])
    last = body["history"][-1]
    assert (last["to"], last["tenant"], last["key_id"]) == ("approved", "buyer-co", key_id)
    # The inbox lists the document once: its status change is not a new inbox entry.
    status, inbox = await gw.call("GET", key, "/v1/inbox")
    assert [i["document"]["id"] for i in inbox["items"]] == [doc["id"]]


async def test_response_documents_have_no_workflow(gw_factory: Any) -> None:
    gw = await gw_factory()
    key = await gw.key("seller-co")
    stored = await gw.receive(key, response("AB", "R-1", "NOPE-1"))
    status, body = await gw.call(
        "POST", key, f"/v1/documents/{stored['id']}/status", json={"status": "paid"}
    )
    assert status == 409, body
    assert body["code"] == "no-workflow"
    assert "no workflow of its own" in body["detail"]
    assert (await gw.doc(key, stored["id"]))["status"] == "received"


async def test_sales_invoice_events_and_inbox(gw_factory: Any) -> None:
    gw = await gw_factory()
    key = await gw.key("seller-co")
    async with gw.db.write() as s:
        await repo.set_webhook(s, "seller-co", gw.ap.url + "/hook")
    raw = sales_invoice(gw.base_invoice, number="S-1", seller=SELLER, buyer=BUYER)
    inv = await gw.send_invoice(key, raw)
    (delivered,) = [e for _, e in await events(gw, 1)]
    assert delivered["event"] == "outbound.delivered"
    assert delivered["document"]["id"] == inv

    stored = await gw.hand_in_response(key, response("AP", "R-2", "S-1"))  # held, vouched for
    got = [e for _, e in await events(gw, 3)]
    kinds = sorted((e["event"], e["document"]["id"]) for e in got)
    assert ("document.status_changed", inv) in kinds
    assert ("document.received", stored["id"]) in kinds
    change = next(e for e in got if e["event"] == "document.status_changed")["change"]
    assert (change["from"], change["to"], change["source"]) == (
        "delivered",
        "accepted",
        "invoice-response",
    )
    # Only the new document (the response) is in the inbox, not the sales invoice.
    _, inbox = await gw.call("GET", key, "/v1/inbox")
    assert [i["document"]["id"] for i in inbox["items"]] == [stored["id"]]


async def test_unmatched_response_is_announced(gw_factory: Any) -> None:
    gw = await gw_factory()
    key = await gw.key("seller-co")
    async with gw.db.write() as s:
        await repo.set_webhook(s, "seller-co", gw.ap.url + "/hook")
    stored = await gw.hand_in_response(key, response("AB", "R-9", "NOT-YET-1"))
    got = [e for _, e in await events(gw, 2)]
    (unmatched,) = [e for e in got if e["event"] == "response.unmatched"]
    assert unmatched["document"]["id"] == stored["id"]
    assert unmatched["change"]["referenced_id"] == "NOT-YET-1"
    assert "content_base64" not in unmatched
