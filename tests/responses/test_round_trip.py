"""The round trip: tenant B (buyer) changes a purchase invoice's status, the gateway sends a
generated T111, and tenant A's (seller) sales invoice follows it.

Locally (both tenants on this gateway) the response is applied at once; otherwise it goes
through the outbound queue to the seller's access point (a loopback receiver here), and those
exact bytes, received by A, move A's invoice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway.store import repo

SELLER = "0196:6841569459"
BUYER = "0196:6963495890"
NUMBER = "RT-2024-1"


async def _deliver_to_buyer(gw: Any, seller_key: str, buyer_key: str, make_invoice: Any) -> tuple:
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    sales_id = await gw.send_invoice(seller_key, raw)
    delivered = gw.ap.bodies[-1]
    assert delivered == raw  # what the buyer's access point got
    purchase = await gw.receive(buyer_key, delivered)
    assert purchase["status"] == "received"
    return sales_id, purchase["id"]


async def _assert_valid_t111(validator: Any, raw: bytes) -> None:
    report = await validator.validate(raw, "peppol-invoice-response-3")
    assert report.accepted, [f.to_dict() for f in report.findings]
    assert not [f for f in report.findings if f.severity in ("fatal", "error", "warning")]
    # Both layers ran: the UBL 2.1 schema and the Peppol Schematron.
    assert "schema" in report.timings and "schematron-peppol" in report.timings


async def test_local_round_trip_paid(
    gw_factory: Any, make_invoice: Any, validator: Any, webhook_stub: Any
) -> None:
    gw = await gw_factory()
    a, b = await gw.key("tenant-a"), await gw.key("tenant-b")
    await gw.participant("tenant-a", SELLER)
    await gw.participant("tenant-b", BUYER)
    async with gw.db.write() as s:
        await repo.set_webhook(s, "tenant-a", webhook_stub.url + "/hook")
    sales_id, purchase_id = await _deliver_to_buyer(gw, a, b, make_invoice)

    # Emission is off by default: a status change sends nothing.
    status, _ = await gw.call(
        "POST", b, f"/v1/documents/{purchase_id}/status", json={"status": "under_review"}
    )
    assert status == 200
    assert (await gw.doc(b, purchase_id))["invoice_responses"] == []
    assert (await gw.doc(a, sales_id))["status"] == "delivered"

    status, body = await gw.call(
        "PUT", b, "/v1/admin/responses/settings", json={"emit_responses": True}
    )
    assert status == 200 and body["emit_responses"] is True
    status, problem = await gw.call(
        "PUT", b, "/v1/admin/responses/settings", json={"emit_responses": "yes"}
    )
    assert status == 422 and problem["code"] == "invalid-request"

    status, _ = await gw.call(
        "POST", b, f"/v1/documents/{purchase_id}/status", json={"status": "approved"}
    )
    assert status == 200
    assert (await gw.doc(a, sales_id))["status"] == "accepted"  # immediately, no queue
    status, _ = await gw.call(
        "POST", b, f"/v1/documents/{purchase_id}/status", json={"status": "paid"}
    )
    assert status == 200

    sales = await gw.doc(a, sales_id)
    assert sales["status"] == "paid"
    assert [(r["response_code"], r["state"]) for r in sales["invoice_responses"]] == [
        ("AP", "applied"),
        ("PD", "applied"),
    ]
    moves = [(h["from"], h["to"], h["source"]) for h in sales["history"]][-2:]
    assert moves == [
        ("delivered", "accepted", "invoice-response"),
        ("accepted", "paid", "invoice-response"),
    ]
    purchase = await gw.doc(b, purchase_id)
    assert [
        (r["direction"], r["response_code"], r["state"]) for r in purchase["invoice_responses"]
    ] == [("sent", "AP", "delivered-locally"), ("sent", "PD", "delivered-locally")]

    # The response A received is a stored, validated document of A: schema + Schematron valid.
    imr_doc_id = sales["invoice_responses"][-1]["document_id"]
    imr_doc = await gw.doc(a, imr_doc_id)
    assert imr_doc["channel"] == "local" and imr_doc["validation"]["accepted"] is True
    assert imr_doc["validation"]["scenario"] == "peppol-invoice-response-3"
    status, generated = await gw.call("GET", a, f"/v1/documents/{imr_doc_id}/content")
    assert status == 200 and b"<cbc:ResponseCode>PD</cbc:ResponseCode>" in generated
    assert f"<cbc:ID>{NUMBER}</cbc:ID>".encode() in generated
    await _assert_valid_t111(validator, generated)
    # B cannot see A's documents (tenant isolation holds for generated ones too).
    status, _ = await gw.call("GET", b, f"/v1/documents/{sales_id}")
    assert status == 404

    # A's webhook got an event for each change of its sales invoice.
    events = await _events(webhook_stub, sales_id, 2)
    assert [e["document"]["status"] for e in events][-1] == "paid"


async def test_remote_round_trip_through_outbound_queue(
    gw_factory: Any, make_invoice: Any, validator: Any
) -> None:
    gw = await gw_factory()
    a, b = await gw.key("tenant-a"), await gw.key("tenant-b")  # A's id is not local here
    await gw.participant("tenant-b", BUYER)  # B may only answer for a buyer id it owns
    sales_id, purchase_id = await _deliver_to_buyer(gw, a, b, make_invoice)
    await gw.call("PUT", b, "/v1/admin/responses/settings", json={"emit_responses": True})

    status, _ = await gw.call(
        "POST",
        b,
        f"/v1/documents/{purchase_id}/status",
        json={"status": "rejected", "reason": "Order number missing"},
    )
    assert status == 200
    [sent] = (await gw.doc(b, purchase_id))["invoice_responses"]
    assert (sent["direction"], sent["response_code"]) == ("sent", "RE")
    assert sent["state"] in ("queued", "sent", "delivered")
    out = await gw.wait_status(b, sent["document_id"], "delivered")
    assert out["direction"] == "outbound" and out["validation"]["accepted"] is True
    # The sent response's state followed its outbound item (no longer "queued").
    [sent] = (await gw.doc(b, purchase_id))["invoice_responses"]
    assert sent["state"] == "delivered"
    status, body = await gw.call(
        "POST", b, f"/v1/documents/{sent['document_id']}/status", json={"status": "failed"}
    )
    assert status == 409 and body["code"] == "no-workflow"

    wire = gw.ap.bodies[-1]
    assert b"ApplicationResponse" in wire and b"Order number missing" in wire
    await _assert_valid_t111(validator, wire)

    await gw.hand_in_response(a, wire)  # A's access point hands the response in
    sales = await gw.doc(a, sales_id)
    assert sales["status"] == "rejected"
    [resp] = sales["invoice_responses"]
    assert resp["reason_codes"] == [{"code": "OTH", "name": "Other"}]
    assert resp["statuses"][0]["reason"] == "Order number missing"
    assert resp["responding_party"]["endpoint"] == BUYER


async def _events(stub: Any, doc_id: str, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        events = [json.loads(b) for b in stub.bodies]
        mine = [e for e in events if e["document"]["id"] == doc_id]
        if len(mine) >= count:
            return mine
        await asyncio.sleep(0.05)
    raise AssertionError(f"webhook got {len(stub.bodies)} events, not {count} for {doc_id}")
