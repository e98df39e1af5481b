"""One test per shipped status profile: its platform's lifecycle (../shared/design/statuses.md)
walked through the HTTP API, refused moves answered with the profile's exact sentences."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle.lifecycle_support import BUYER, SELLER, response
from tests.live_gateway import sales_invoice

FUTURE = "2999-12-31"  # not overdue; the corpus invoice's own due date (2017) is long past


class Walk:
    """A tenant of a real gateway with a profile, and short calls for the walk."""

    def __init__(self, gw: Any, admin: str, clerk: str) -> None:
        self.gw, self.admin, self.clerk = gw, admin, clerk

    @classmethod
    async def start(cls, gw_factory: Any, outbound: str, inbound: str = "default") -> Walk:
        gw = await gw_factory()
        admin = await gw.key("acme", "submit", "read", "status", "admin")
        clerk = await gw.key("acme", "submit", "read", "status")
        status, body = await gw.call(
            "PUT",
            admin,
            "/v1/admin/settings",
            json={"status_profile": {"inbound": inbound, "outbound": outbound}},
        )
        assert status == 200, body
        assert body["status_profile"] == {"inbound": inbound, "outbound": outbound}
        return cls(gw, admin, clerk)

    def invoice(self, number: str, due: str | None = FUTURE) -> bytes:
        return sales_invoice(
            self.gw.base_invoice, number=number, seller=SELLER, buyer=BUYER, due_date=due
        )

    async def draft(self, number: str, due: str | None = FUTURE, query: str = "draft=true") -> str:
        status, body = await self.gw.call(
            "POST", self.clerk, f"/v1/outbound?{query}", xml=self.invoice(number, due)
        )
        assert status == 201, body
        return body["id"]

    async def status(self, doc_id: str) -> str:
        return (await self.gw.doc(self.admin, doc_id))["status"]

    async def move(self, doc_id: str, name: str, key: str | None = None) -> tuple[int, Any]:
        return await self.gw.call(
            "POST", key or self.admin, f"/v1/documents/{doc_id}/status", json={"status": name}
        )

    async def moved(self, doc_id: str, name: str, key: str | None = None) -> None:
        status, body = await self.move(doc_id, name, key)
        assert status == 200, body
        assert body["status"] == name, body

    async def refused(self, doc_id: str, name: str, message: str, key: str | None = None) -> None:
        before = await self.gw.doc(self.admin, doc_id)
        status, body = await self.move(doc_id, name, key)
        assert status == 409, body
        assert body["detail"] == message
        after = await self.gw.doc(self.admin, doc_id)
        assert after["canonical_status"] == before["canonical_status"]  # nothing changed
        assert len(after["history"]) == len(before["history"])

    async def send(self, doc_id: str, key: str | None = None) -> tuple[int, Any]:
        return await self.gw.call("POST", key or self.clerk, f"/v1/outbound/{doc_id}/send")

    async def sent(self, doc_id: str) -> dict[str, Any]:
        status, body = await self.send(doc_id)
        assert status == 202, body
        return await self.gw.wait_status(self.admin, doc_id, "delivered")


async def test_channel_marketplace(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "channel-marketplace")
    inv = await w.draft("CM-1")
    assert await w.status(inv) == "New"
    status, _ = await w.gw.call(
        "PUT", w.clerk, f"/v1/outbound/{inv}/content", xml=w.invoice("CM-1b")
    )
    assert status == 200
    body = await w.gw.doc(w.admin, inv)
    assert (body["status"], body["canonical_status"], body["number"]) == (
        "New Corrected",
        "draft",
        "CM-1b",
    )
    status, problem = await w.send(inv)
    assert (
        status == 409
        and problem["detail"] == "You need to change the invoice status to Verified first"
    )
    await w.refused(inv, "Paid", "You need to change the invoice status to Verified first")
    await w.refused(
        inv,
        "Verified",
        "Only distributor admins can change the status of New or New Corrected invoices.",
        key=w.clerk,
    )
    await w.moved(inv, "Verified")
    await w.refused(
        inv, "New", "You cannot change the invoice status back to New or New Corrected."
    )
    body = await w.sent(inv)
    assert (body["status"], body["canonical_status"]) == ("Issued", "delivered")
    await w.refused(
        inv, "New", "You cannot change the invoice status back to New or New Corrected."
    )
    await w.moved(inv, "Payment Card Error", key=w.clerk)
    await w.moved(inv, "Paid", key=w.clerk)
    history = (await w.gw.doc(w.admin, inv))["history"]
    assert [h["to"] for h in history][-3:] == ["delivered", "payment_failed", "paid"]


async def test_ar_api(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "ar-api")
    gone = await w.draft("AR-0")
    status, body = await w.gw.call("DELETE", w.clerk, f"/v1/outbound/{gone}")
    assert status == 200 and body["status"] == "deleted"
    assert await w.status(gone) == "deleted"

    inv = await w.draft("AR-1")
    assert await w.status(inv) == "draft"
    await w.refused(inv, "paid", "A draft must be issued first.")
    assert (await w.sent(inv))["status"] == "issued"
    status, body = await w.gw.call("DELETE", w.clerk, f"/v1/outbound/{inv}")
    assert status == 409 and body["code"] == "not-a-draft"
    await w.moved(inv, "partially_paid")
    await w.moved(inv, "paid")
    await w.refused(inv, "canceled", "A paid invoice is final and cannot be changed.")

    late = await w.draft("AR-2", due="2020-01-31")
    await w.sent(late)
    body = await w.gw.doc(w.admin, late)
    assert (body["status"], body["conditions"]) == ("overdue", ["overdue"])
    await w.move(late, "partially_paid")
    body = await w.gw.doc(w.admin, late)  # a partially paid invoice past due is overdue
    assert (body["status"], body["canonical_status"]) == ("overdue", "partially_paid")
    await w.moved(late, "uncollectible")
    await w.refused(late, "paid", "The invoice is uncollectible, a final status.")


async def test_smb_invoicing(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "smb-invoicing")
    inv = await w.draft("SMB-1")
    assert await w.status(inv) == "Draft"
    await w.refused(inv, "Paid", "Complete the draft first: it becomes Unpaid when it is sent.")
    assert (await w.sent(inv))["status"] == "Unpaid"
    await w.refused(inv, "Refunded", "Only a paid or cancelled invoice can be refunded.")
    await w.refused(
        inv, "Draft", "A completed invoice cannot become a draft again; cancel it instead."
    )
    await w.moved(inv, "Paid")
    await w.moved(inv, "Refunded")

    late = await w.draft("SMB-2", due="2020-01-31")
    assert (await w.sent(late))["status"] == "Overdue"
    await w.moved(late, "Cancelled")


async def test_billing_portal(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "billing-portal")
    # Generated ahead of the invoice date; sent by the gateway on that date unless sent earlier.
    inv = await w.draft("BP-1", query="send_at=2999-01-01T08:00:00Z")
    status, body = await w.gw.call("GET", w.clerk, f"/v1/outbound/{inv}")
    assert status == 200 and body["send_at"] == "2999-01-01T08:00:00Z"
    assert await w.status(inv) == "Draft"
    await w.refused(inv, "Paid", "The invoice has not been issued yet; save and send it first.")
    await w.moved(inv, "Awaiting update", key=w.clerk)
    assert (await w.sent(inv))["status"] == "Issued"  # "save and send" early
    await w.moved(inv, "Disputed", key=w.clerk)
    await w.moved(inv, "Paid", key=w.clerk)
    await w.refused(inv, "Cancelled", "The invoice is Paid; nothing can follow.")


async def test_einvoicing_network(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "einvoicing-network", inbound="einvoicing-network")
    # The buyer tells the seller by Invoice Responses, as the profile's table says.
    await w.gw.participant("acme", BUYER)
    status, _ = await w.gw.call(
        "PUT", w.admin, "/v1/admin/responses/settings", json={"emit_responses": True}
    )
    assert status == 200
    # Purchase side: the receiving tenant's approval workflow, in the platform's words.
    raw = sales_invoice(w.gw.base_invoice, number="P-1", seller=SELLER, buyer=BUYER)
    status, stored = await w.gw.call("POST", w.clerk, "/v1/documents", xml=raw)
    assert status == 201
    purchase = stored["id"]
    assert await w.status(purchase) == "Received"
    await w.refused(
        purchase, "Approved for payment", "You need to change the status to approved first."
    )
    for name in ("Under review", "Approved", "Approved for payment", "Paid"):
        await w.moved(purchase, name, key=w.clerk)
    sent = (await w.gw.doc(w.admin, purchase))["invoice_responses"]
    assert [(r["status"], r["response_code"]) for r in sent] == [
        ("under_review", "IP"),
        ("approved_for_payment", "AP"),  # "Approved" is the buyer's own step: nothing sent
        ("paid", "PD"),
    ]
    assert all(r["direction"] == "sent" and r["state"] != "not-sent" for r in sent), sent
    for _ in range(100):  # the queue delivers them to the seller's access point
        ip = [b for b in w.gw.ap.bodies if b"<cbc:ResponseCode>IP</cbc:ResponseCode>" in b]
        if ip:
            break
        await asyncio.sleep(0.1)
    assert b"<cbc:StatusReason>Under review</cbc:StatusReason>" in ip[0]  # the profile's text
    status, dup = await w.gw.call("POST", w.clerk, "/v1/documents", xml=raw)
    assert status == 201 and await w.status(dup["id"]) == "Duplicate"

    # Sales side: set by the receiving party only (its Invoice Response).
    status, body = await w.gw.call("POST", w.clerk, "/v1/outbound", xml=w.invoice("S-1"))
    assert status == 202
    sale = (await w.gw.wait_status(w.admin, body["id"], "delivered"))["id"]
    assert await w.status(sale) == "Sent"
    message = (
        "Under review, Paid and Rejected are set by the receiving party (by its Invoice "
        "Response); a sales invoice's status cannot be changed by its issuer."
    )
    await w.refused(sale, "Paid", message)
    await w.gw.hand_in_response(w.admin, response("AP", "R-1", "S-1"))
    assert await w.status(sale) == "Under review"
    await w.gw.hand_in_response(w.admin, response("PD", "R-2", "S-1"))
    body = await w.gw.doc(w.admin, sale)
    assert (body["status"], body["canonical_status"]) == ("Paid", "paid")
    assert body["history"][-1]["source"] == "invoice-response"


async def test_default(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "default")
    inv = await w.draft("D-1")
    assert await w.status(inv) == "draft"
    await w.refused(
        inv,
        "paid",
        "You cannot change the status from draft to paid; allowed next statuses: changes_requested, deleted, draft, partially_verified, queued, verified.",
    )
    body = await w.sent(inv)
    assert body["status"] == body["canonical_status"] == "delivered"
    await w.refused(
        inv, "accepted", "Only the buyer's Invoice Response sets a sales invoice to accepted."
    )
    await w.moved(inv, "partially_paid")
    await w.moved(inv, "paid")
    await w.moved(inv, "refunded")
    await w.refused(inv, "paid", "The status refunded is final; it cannot be changed.")


async def test_payments_reach_the_payable_amount(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "ar-api")
    inv = await w.draft("PAY-1")
    body = await w.sent(inv)
    total = body["payable_amount"]
    assert body["open_amount"] == total and body["payments"] == []

    async def pay(amount: str) -> dict[str, Any]:
        status, out = await w.gw.call(
            "POST",
            w.clerk,
            f"/v1/documents/{inv}/status",
            json={"status": "partially_paid", "amount": amount, "paid_on": "2026-11-30"},
        )
        assert status == 200, out
        return out

    half = str(Decimal(total) / 2)
    assert (await pay(half))["status"] == "partially_paid"
    status, problem = await w.gw.call(
        "POST", w.clerk, f"/v1/documents/{inv}/status", json={"status": "paid", "amount": "-1"}
    )
    assert status == 422 and problem["code"] == "bad-amount"
    assert (await pay(str(Decimal(total) - Decimal(half))))["status"] == "paid"
    body = await w.gw.doc(w.admin, inv)
    assert [p["amount"] for p in body["payments"]] == [half, str(Decimal(total) - Decimal(half))]
    assert Decimal(body["open_amount"]) == 0 and body["payments"][0]["paid_on"] == "2026-11-30"


async def test_invoice_response_pd_counts_as_payment(gw_factory: Any) -> None:
    w = await Walk.start(gw_factory, "default")
    status, body = await w.gw.call("POST", w.clerk, "/v1/outbound", xml=w.invoice("PD-1"))
    assert status == 202
    inv = body["id"]
    await w.gw.wait_status(w.admin, inv, "delivered")
    await w.gw.hand_in_response(w.admin, response("PD", "R-PD", "PD-1"))
    body = await w.gw.doc(w.admin, inv)
    assert body["status"] == "paid"
    assert [p["source"] for p in body["payments"]] == ["invoice-response"]
    assert Decimal(body["open_amount"]) == 0


async def test_credit_note_cancels_the_invoice_it_references(
    gw_factory: Any, corpus_dir: Path
) -> None:
    w = await Walk.start(gw_factory, "smb-invoicing")
    inv = await w.draft("INV-CN-1")
    assert (await w.sent(inv))["status"] == "Unpaid"
    note = (corpus_dir / "peppol-bis-examples/base-creditnote-correction.xml").read_bytes()
    note = note.replace(b"<cbc:ID>Snippet1</cbc:ID>", b"<cbc:ID>CN-1</cbc:ID>", 1)
    note = note.replace(b"<cbc:ID>Snippet1</cbc:ID>", b"<cbc:ID>INV-CN-1</cbc:ID>", 1)
    status, body = await w.gw.call("POST", w.clerk, "/v1/outbound", xml=note)
    assert status == 202, body
    cn = body["id"]
    invoice = await w.gw.doc(w.admin, inv)
    assert (invoice["status"], invoice["canonical_status"]) == ("Cancelled", "canceled")
    assert invoice["credited_by"] == [cn]
    assert invoice["history"][-1]["source"] == "credit-note"
    assert (await w.gw.doc(w.admin, cn))["credits"] == [inv]


def test_a_profile_says_which_moves_send_which_response(tmp_path: Path) -> None:
    """``[[inbound.responses]]``: names of the profile (or canonical ones) -> code and texts;
    a profile without a table sends the default profile's; a bad code is refused on load."""
    from gateway.lifecycle import Lifecycle, ModelError
    from gateway.lifecycle.profile import ResponseRule
    from gateway.responses import load_mapping

    (tmp_path / "mine.toml").write_text(
        'id = "mine"\n[[inbound.status]]\nname = "Checked"\ncanonical = "under_review"\n'
        '[[inbound.responses]]\nstatus = ["Checked", "rejected"]\ncode = "UQ"\n'
        'reason = "OTH"\ntext = "We have questions."\n',
        encoding="utf-8",
    )
    lc = Lifecycle(profiles_dir=str(tmp_path))
    rule = ResponseRule("UQ", "OTH", "We have questions.")
    assert lc.profiles["mine"].inbound.responses == {"under_review": rule, "rejected": rule}
    assert lc.profiles["ar-api"].inbound.responses is None  # sends the default's
    assert lc.default_responses["paid"] == ResponseRule("PD")
    assert lc.default_responses["rejected"].reason == "OTH"
    (tmp_path / "bad.toml").write_text(
        'id = "bad"\n[[inbound.responses]]\nstatus = "approved"\ncode = "XX"\n', encoding="utf-8"
    )
    with pytest.raises(ModelError, match="code must be one of AB, IP, UQ, CA, RE, AP, PD"):
        Lifecycle(profiles_dir=str(tmp_path))
    # The shipped code table has no [emit] any more; an older mapping file's still counts.
    assert load_mapping().emit == {}
    shipped = Path(__file__).resolve().parents[2] / "config" / "invoice-response-mapping.toml"
    older = tmp_path / "older-mapping.toml"
    older.write_text(
        shipped.read_text(encoding="utf-8")
        + '\n[emit]\napproved = "AP"\nrejected = "RE"\n\n[emit_reason]\nRE = "OTH"\n',
        encoding="utf-8",
    )
    assert load_mapping(older).response_rules() == {
        "approved": ResponseRule("AP"),
        "rejected": ResponseRule("RE", "OTH"),
    }
