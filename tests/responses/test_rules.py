"""Sequencing, duplicates, wrong parties, invalid PPD, unmatched-then-matched and the overdue
timer, through the real app (REST intake of the responses, outbound queue for the invoice)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import text

from gateway.documents import Party
from gateway.lifecycle import OVERDUE_EVENT, IllegalTransition, Lifecycle, run_overdue_timer
from gateway.responses import ResponseContent, Step, build_response, conflict
from gateway.store import repo
from gateway.web import FORWARDER, LIFECYCLE, SETTINGS

SELLER = "0196:6841569459"
BUYER = "0196:6963495890"
NUMBER = "INV-2024-7"


def imr(
    code: str,
    imr_id: str,
    *,
    issued: str = "2024-02-01",
    sender: str = BUYER,
    receiver: str = SELLER,
    reason: str | None = None,
    number: str = NUMBER,
) -> bytes:
    return build_response(
        ResponseContent(
            imr_id=imr_id,
            issue_date=issued,
            code=code,
            sender=Party(endpoint=sender, name="Buyer organization"),
            receiver=Party(endpoint=receiver, name="Seller company"),
            invoice_number=number,
            invoice_type_code="380",
            reason_code=reason,
            # PEPPOL-T111-R004: a PPD code needs a clarification text.
            reason_text="Partial payment of 500 EUR" if reason == "PPD" else None,
        )
    )


async def _setup(gw_factory: Any, make_invoice: Any, **settings: Any) -> tuple[Any, str, str]:
    gw = await gw_factory(**settings)
    key = await gw.key("seller-co")
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    return gw, key, await gw.send_invoice(key, raw)


async def _apply(gw: Any, key: str, raw: bytes) -> dict[str, Any]:
    stored = await gw.hand_in_response(key, raw)
    assert stored["validation"]["accepted"], stored["validation"]
    return stored


def test_rules_table() -> None:
    ok = [
        (None, "PD"),
        ("AB", "PD"),
        ("AB", "IP"),
        ("UQ", "UQ"),
        ("IP", "AP"),
        ("AP", "PD"),
        ("CA", "RE"),
    ]
    bad = [("AP", "IP"), ("RE", "PD"), ("PD", "IP"), ("CA", "UQ"), ("IP", "IP"), ("AP", "AP")]
    for cur, new in ok:
        assert conflict(Step(cur) if cur else None, Step(new)) is None, (cur, new)
    for cur, new in bad:
        assert conflict(Step(cur), Step(new)) is not None, (cur, new)
    assert conflict(Step("PD", partial=True), Step("PD", partial=True)) is None
    assert conflict(Step("PD", partial=True), Step("PD")) is None
    assert "only PD" in (conflict(Step("PD", partial=True), Step("AP")) or "")


def test_outbound_model_refuses_client_changes() -> None:
    model = Lifecycle().model("outbound", "Invoice")
    model.check("sending", "delivered", "system")
    model.check("failed", "queued", "admin")
    model.check("delivered", "delivered_to_recipient", "counterpart")
    model.check("delivered", "paid", "counterpart")
    with pytest.raises(
        IllegalTransition, match="Invoice Response sets a sales invoice to accepted"
    ):
        model.check("delivered", "accepted", "api")
    with pytest.raises(IllegalTransition, match="MLS"):
        model.check("delivered", "delivered_to_recipient", "system")
    with pytest.raises(IllegalTransition):
        model.check("paid", "overdue", "system")
    with pytest.raises(IllegalTransition, match="Overdue is a condition"):
        model.check("delivered", "overdue", "system")  # nothing writes it as a status


async def test_out_of_order_ab_pd_ip_stays_paid(gw_factory: Any, make_invoice: Any) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    await _apply(gw, key, imr("AB", "r1", issued="2024-02-01"))
    assert (await gw.doc(key, inv))["status"] == "acknowledged"
    await _apply(gw, key, imr("PD", "r3", issued="2024-02-10"))
    # IP was issued between AB and PD but arrives last: PD is final, status stays paid.
    await _apply(gw, key, imr("IP", "r2", issued="2024-02-05"))
    body = await gw.doc(key, inv)
    assert body["status"] == "paid"
    states = [(r["response_id"], r["state"]) for r in body["invoice_responses"]]
    assert states == [("r1", "applied"), ("r3", "applied"), ("r2", "conflict")]
    conflict_row = body["history"][-1]
    assert conflict_row["from"] == conflict_row["to"] == "paid"
    assert conflict_row["reason"].startswith("conflict, status unchanged")
    assert "arrived late" in body["invoice_responses"][-1]["detail"]
    status, listing = await gw.call("GET", key, "/v1/admin/responses?state=conflict")
    assert status == 200 and [i["response_id"] for i in listing["items"]] == ["r2"]


async def test_partial_payments_then_final(gw_factory: Any, make_invoice: Any) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    await _apply(gw, key, imr("AP", "a1"))
    await _apply(gw, key, imr("PD", "p1", reason="PPD"))
    assert (await gw.doc(key, inv))["status"] == "partially_paid"
    await _apply(gw, key, imr("PD", "p2", reason="PPD"))
    await _apply(
        gw, key, imr("UQ", "u1", reason="OTH")
    )  # after a partial payment only PD may follow
    assert (await gw.doc(key, inv))["status"] == "partially_paid"
    await _apply(gw, key, imr("PD", "p3"))
    await _apply(gw, key, imr("RE", "x1", reason="OTH"))  # nothing after full payment
    body = await gw.doc(key, inv)
    assert body["status"] == "paid"
    assert [(r["response_id"], r["state"], r["status"]) for r in body["invoice_responses"]] == [
        ("a1", "applied", "accepted"),
        ("p1", "applied", "partially_paid"),
        ("p2", "applied", "partially_paid"),
        ("u1", "conflict", "under_query"),
        ("p3", "applied", "paid"),
        ("x1", "conflict", "rejected"),
    ]
    moves = [(h["from"], h["to"]) for h in body["history"] if h["source"] == "invoice-response"]
    assert moves[:3] == [
        ("delivered", "accepted"),
        ("accepted", "partially_paid"),
        ("partially_paid", "partially_paid"),
    ]


async def test_uq_repeats_rejected_is_final_and_no_going_back(
    gw_factory: Any, make_invoice: Any
) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    await _apply(gw, key, imr("UQ", "q1", reason="OTH"))
    await _apply(gw, key, imr("UQ", "q2", reason="OTH"))
    await _apply(gw, key, imr("IP", "i1"))  # back to IP: breaks the order
    body = await gw.doc(key, inv)
    assert body["status"] == "under_query"
    assert [r["state"] for r in body["invoice_responses"]] == ["applied", "applied", "conflict"]
    await _apply(gw, key, imr("RE", "re1", reason="OTH"))
    await _apply(gw, key, imr("PD", "pd1"))
    body = await gw.doc(key, inv)
    assert body["status"] == "rejected"
    assert body["invoice_responses"][-1]["state"] == "conflict"
    assert "RE is final" in body["invoice_responses"][-1]["detail"]


async def test_duplicates_applied_once(gw_factory: Any, make_invoice: Any) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    first = imr("UQ", "dup-1", reason="OTH")
    await _apply(gw, key, first)
    again = await gw.receive(key, first)  # the same bytes: intake's duplicate detection
    assert again["status"] == "duplicate"
    # Same sender + response id, different bytes (another issue date): applied once too.
    await _apply(gw, key, imr("UQ", "dup-1", issued="2024-03-01", reason="OTH"))
    body = await gw.doc(key, inv)
    assert [r["state"] for r in body["invoice_responses"]] == ["applied", "duplicate"]
    assert sum(h["source"] == "invoice-response" for h in body["history"]) == 1
    # Another sender may reuse the id (ids are unique per sender): refused here for its party.
    await _apply(gw, key, imr("UQ", "dup-1", sender="0196:1111111111", reason="OTH"))
    status, listing = await gw.call("GET", key, "/v1/admin/responses?state=refused")
    assert status == 200 and [i["response_id"] for i in listing["items"]] == ["dup-1"]


async def test_wrong_party_refused(gw_factory: Any, make_invoice: Any) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    await _apply(gw, key, imr("PD", "evil-1", sender="0196:1111111111"))
    await _apply(gw, key, imr("PD", "evil-2", receiver="0196:2222222222"))
    body = await gw.doc(key, inv)
    assert body["status"] == "delivered"
    assert all(h["source"] != "invoice-response" for h in body["history"])
    status, listing = await gw.call("GET", key, "/v1/admin/responses?state=refused")
    assert status == 200
    details = {i["response_id"]: i["detail"] for i in listing["items"]}
    assert "is not the buyer" in details["evil-1"]
    assert "is not the seller" in details["evil-2"]
    assert all(i["invoice_id"] is None for i in listing["items"])
    # Another tenant's admin sees none of it.
    other = await gw.key("other-co")
    _, theirs = await gw.call("GET", other, "/v1/admin/responses?state=refused")
    assert theirs["items"] == []
    # And only admins may look.
    reader = await gw.key("seller-co", "read")
    status, problem = await gw.call("GET", reader, "/v1/admin/responses")
    assert status == 403 and problem["code"] == "forbidden"


async def test_ppd_without_pd_is_invalid(gw_factory: Any, make_invoice: Any) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    await _apply(gw, key, imr("AP", "bad-ppd", reason="PPD"))  # the official rule never fires
    body = await gw.doc(key, inv)
    assert body["status"] == "delivered"
    _, listing = await gw.call("GET", key, "/v1/admin/responses?state=invalid")
    [item] = listing["items"]
    assert item["response_id"] == "bad-ppd" and "PEPPOL-T111-R005" in item["detail"]


async def test_unmatched_then_matched(gw_factory: Any, make_invoice: Any) -> None:
    gw = await gw_factory()  # no sweep timer: the lifecycle event applies it
    key = await gw.key("seller-co")
    early = await gw.hand_in_response(key, imr("AP", "early-1"))
    status, listing = await gw.call("GET", key, "/v1/admin/responses?state=unmatched")
    assert status == 200
    [item] = listing["items"]
    assert item["document_id"] == early["id"] and item["referenced_id"] == NUMBER
    status, problem = await gw.call("GET", key, "/v1/admin/responses?state=bogus")
    assert (status, problem["code"], problem["parameter"]) == (400, "invalid-parameter", "state")
    assert "unmatched" in problem["allowed"]
    status, problem = await gw.call("GET", key, "/v1/admin/responses?direction=sideways")
    assert (status, problem["code"], problem["parameter"]) == (
        400,
        "invalid-parameter",
        "direction",
    )
    status, problem = await gw.call("GET", key, "/v1/admin/responses?status=unmatched")
    assert (status, problem["code"], problem["parameter"]) == (400, "unknown-parameter", "status")

    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    status, sent = await gw.call("POST", key, "/v1/outbound", xml=raw)
    assert status == 202
    # Applied when the invoice leaves the queue (delivered), not by a sweep.
    body = await gw.wait_status(key, sent["id"], "accepted")
    [resp] = body["invoice_responses"]
    assert resp["response_id"] == "early-1" and resp["state"] == "applied"
    assert [h["to"] for h in body["history"]][-2:] == ["delivered", "accepted"]
    _, listing = await gw.call("GET", key, "/v1/admin/responses?state=unmatched")
    assert listing["items"] == []


async def test_rematch_endpoint(gw_factory: Any, make_invoice: Any) -> None:
    gw = await gw_factory()  # no timer
    key = await gw.key("seller-co")
    await gw.hand_in_response(key, imr("CA", "c1", reason="PAY"))
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    status, sent = await gw.call("POST", key, "/v1/outbound", xml=raw)
    assert status == 202
    await gw.wait_status(key, sent["id"], "conditionally_accepted")  # the lifecycle event
    status, body = await gw.call("POST", key, "/v1/admin/responses/rematch")
    assert status == 200 and body["changed"] == 0  # nothing left for the admin


async def test_overdue_is_a_condition_told_once_per_episode(
    gw_factory: Any, make_invoice: Any, webhook_stub: Any
) -> None:
    """The timer never writes a status: it notes and announces ``document.overdue`` once when
    the due date passes, and again only when a payment past due leaves the invoice open."""
    gw = await gw_factory(overdue_timer=True, overdue_interval=0.1)  # the test runs the timer
    key = await gw.key("seller-co", "submit", "read", "status", "admin")
    async with gw.db.write() as s:
        await repo.set_webhook(s, "seller-co", webhook_stub.url + "/hook")
    raw = make_invoice(
        gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER, due_date="2099-03-01"
    )
    inv = await gw.send_invoice(key, raw)
    await _apply(gw, key, imr("AP", "ok-1"))
    lifecycle = gw.app[LIFECYCLE]
    assert await run_overdue_timer(gw.db, lifecycle, dt.date(2099, 3, 1)) == []  # due today
    assert await run_overdue_timer(gw.db, lifecycle, dt.date(2099, 3, 2)) == [inv]
    gw.app[FORWARDER].wake()  # what the background timer does after telling someone
    assert await run_overdue_timer(gw.db, lifecycle, dt.date(2099, 3, 3)) == []  # once
    body = await gw.doc(key, inv)
    assert body["canonical_status"] == "accepted"  # the status is the buyer's, unchanged
    note = body["history"][-1]
    assert (note["from"], note["to"], note["source"]) == ("accepted", "accepted", "timer")
    assert note["reason"].startswith("overdue: not fully paid by its due date 2099-03-01")
    # A partial payment past due: still overdue, a new episode with the payment as reason.
    status, _ = await gw.call(
        "POST", key, f"/v1/documents/{inv}/status", json={"status": "paid", "amount": "100"}
    )
    assert status == 200
    body = await gw.doc(key, inv)
    assert body["canonical_status"] == "partially_paid"
    reasons = [h["reason"] or "" for h in body["history"] if h["from"] == h["to"]]
    assert sum(r.startswith("overdue:") for r in reasons) == 1
    told = await _overdue_events(webhook_stub, inv, at_least=1)
    assert [e["change"]["episode"] for e in told] == ["due"]  # that payment was before 2099
    # Really past due: an invoice due in 2017, issued now (overdue at once) and paid in part.
    old = make_invoice(gw.base_invoice, number="INV-OLD-1", seller=SELLER, buyer=BUYER)
    inv2 = await gw.send_invoice(key, old)
    status, _ = await gw.call(
        "POST", key, f"/v1/documents/{inv2}/status", json={"status": "paid", "amount": "1"}
    )
    assert status == 200
    status, _ = await gw.call(
        "POST", key, f"/v1/documents/{inv2}/status", json={"status": "paid", "amount": "1"}
    )
    body = await gw.doc(key, inv2)
    assert body["canonical_status"] == "partially_paid"
    assert body["conditions"] == ["overdue"]
    assert body["condition_reasons"]["overdue"].startswith("not fully paid by its due date")
    events = await _overdue_events(webhook_stub, inv2, at_least=3)
    by_episode = {e["change"]["episode"]: e["change"] for e in events}  # sent in parallel
    assert sorted(by_episode) == ["due", "payment-2", "payment-3"] and len(events) == 3
    assert "payment of 1 EUR (paid 1 of" in by_episode["payment-2"]["reason"]
    assert by_episode["due"]["reason"].startswith("not fully paid by its due date 2017-12-01")
    assert by_episode["due"]["canonical_status"] == "queued"  # told when it was issued
    assert await run_overdue_timer(gw.db, lifecycle, dt.date(2099, 3, 4)) == []  # told at issue


async def _overdue_events(stub: Any, doc_id: str, at_least: int) -> list[dict[str, Any]]:
    for _ in range(100):
        found = [
            e
            for e in (json.loads(b) for b in stub.bodies)
            if e.get("event") == OVERDUE_EVENT and e["document"]["id"] == doc_id
        ]
        if len(found) >= at_least:
            return found
        await asyncio.sleep(0.1)
    return found


async def test_overdue_timer_runs_when_enabled(gw_factory: Any, make_invoice: Any) -> None:
    gw = await gw_factory(overdue_timer=True, overdue_interval=0.1)
    key = await gw.key("seller-co")
    raw = make_invoice(
        gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER, due_date=_yesterday()
    )
    status, sent = await gw.call("POST", key, "/v1/outbound", xml=raw)
    assert status == 202
    body = await gw.wait_status(key, sent["id"], "delivered")
    # The notice comes from the issue (already past due) or the timer, whichever is first;
    # the timer has walked past the invoice once its cursor reaches the due date. (Until
    # 2026-12-03 this waited for a timer notice the issue's notice had made impossible: 10 s.)
    for _ in range(100):
        body = await gw.doc(key, sent["id"])
        noted = any((h["reason"] or "").startswith("overdue:") for h in body["history"])
        if noted and await _timer_cursor(gw) >= _yesterday():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(("no notice, or the timer never ran", body["history"]))
    await asyncio.sleep(0.5)  # five more rounds of the timer tell nobody twice
    body = await gw.doc(key, sent["id"])
    notes = [h for h in body["history"] if (h["reason"] or "").startswith("overdue:")]
    assert len(notes) == 1 and notes[0]["source"] in ("timer", "api"), body["history"]
    assert body["canonical_status"] == "delivered" and body["conditions"] == ["overdue"]
    # Off by default: a gateway without the setting tells nobody (the condition still shows).
    gw2, key2, inv2 = await _setup(gw_factory, make_invoice)
    assert gw2.app[SETTINGS].responses.overdue_timer is False
    await asyncio.sleep(0.3)
    body = await gw2.doc(key2, inv2)
    assert body["conditions"] == ["overdue"]
    assert not any((h["reason"] or "").startswith("overdue:") for h in body["history"])


async def _timer_cursor(gw: Any) -> str:
    """The due date the overdue timer has walked to ("" before its first round)."""
    async with gw.db.read() as s:
        row = await s.execute(
            text("SELECT cursor_date FROM lifecycle_timers WHERE name = 'overdue'")
        )
        return row.scalar() or ""


def _yesterday() -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
