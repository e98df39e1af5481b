"""Counterpart statuses only from the counterpart: the two attacks of issue 13, on SQLite and on
PostgreSQL, refused with a clear reason, nothing changed, and who tried on record.

1. Tenant ``other`` (which does not own acme's buyer participant) switches Invoice Response
   emission on, posts a copy of acme's sales invoice as its own purchase invoice and sets it
   to ``paid``: the move is refused (409 ``response-refused``), acme's invoice stays
   ``delivered``, and other's list shows the refused emission with its key. A local response
   that names other as its emitter anyway (any other path) is refused at acme with who tried.
2. An anonymous e-mail carrying an Invoice Response (code PD) that names acme's invoice, its
   buyer and its seller: stored, never applied (``unroutable`` -> only an operator sees it;
   routed to acme -> ``held`` in acme's admin list with the mail's sender).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
from email import policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select

from gateway.inbound import Submission
from gateway.responses.models import InvoiceResponseRecord
from gateway.store import Document, repo
from gateway.web import INTAKE
from tests.live_gateway import BUYER, SELLER, invoice_response

NUMBER = "SAFE-2024-1"


async def _acme_invoice(gw: Any, make_invoice: Any) -> tuple[str, str, bytes]:
    acme = await gw.key("acme")
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    return acme, await gw.send_invoice(acme, raw), gw.ap.bodies[-1]


async def _count(gw: Any, tenant: str) -> int:
    async with gw.db.read() as s:
        stmt = select(func.count()).select_from(Document).where(Document.tenant == tenant)
        return int(await s.scalar(stmt) or 0)


async def test_local_emit_by_a_tenant_that_is_not_the_buyer_is_refused(
    gw_factory: Any, make_invoice: Any, store_url: str
) -> None:
    gw = await gw_factory(settings={"database_url": store_url})
    await gw.participant("acme", SELLER)
    await gw.participant("buyer-co", BUYER)
    acme, sales_id, delivered = await _acme_invoice(gw, make_invoice)
    other = await gw.key("other")
    await gw.call("PUT", other, "/v1/admin/responses/settings", json={"emit_responses": True})
    copy = await gw.receive(other, delivered)  # other's own "purchase invoice"
    acme_docs = await _count(gw, "acme")

    status, problem = await gw.call(
        "POST", other, f"/v1/documents/{copy['id']}/status", json={"status": "paid"}
    )
    assert status == 409, problem
    assert problem["code"] == "response-refused"
    assert f"does not own the invoice's buyer participant {BUYER}" in problem["detail"]
    # Nothing changed: not acme's invoice, not other's copy, no document delivered to acme.
    sales = await gw.doc(acme, sales_id)
    assert sales["status"] == "delivered" and sales["invoice_responses"] == []
    assert all(h["source"] != "invoice-response" for h in sales["history"])
    assert (await gw.doc(other, copy["id"]))["status"] == "received"
    assert await _count(gw, "acme") == acme_docs
    # Who tried: other's list of sent responses keeps the refused one with the key.
    other_key_id = other.split("_")[1]
    _, sent = await gw.call("GET", other, "/v1/admin/responses?direction=sent")
    [attempt] = sent["items"]
    assert attempt["state"] == "not-sent" and attempt["detail"].startswith("refused: tenant other")
    assert attempt["actor"] == f"key:{other_key_id}" and attempt["invoice_id"] == copy["id"]

    # A local response that names other as its emitter anyway is refused at acme, with who.
    forged = await gw.app[INTAKE].submit(
        Submission(
            invoice_response("PD", "IMR-FORGED-1", NUMBER),
            "local",
            "acme",
            metadata={"from_tenant": "other", "from_key": "k1"},
        )
    )
    assert forged.status == "received"
    sales = await gw.doc(acme, sales_id)
    assert sales["status"] == "delivered"
    [resp] = sales["invoice_responses"]
    assert resp["state"] == "refused" and "tenant other (key k1)" in resp["detail"]
    assert resp["proof"]["submitted_by"] == {"channel": "local", "tenant": "other", "key": "k1"}
    note = sales["history"][-1]
    assert (note["from"], note["to"], note["source"]) == (
        "delivered",
        "delivered",
        "invoice-response",
    )
    assert note["actor"] == "via local tenant:other key:k1"
    assert (note["tenant"], note["key_id"]) == ("other", "k1")
    _, listed = await gw.call("GET", acme, "/v1/admin/responses?state=refused")
    assert [i["document_id"] for i in listed["items"]] == [forged.document_id]

    # The real buyer's tenant may: its emission pays acme's invoice, named in the history.
    buyer = await gw.key("buyer-co")
    await gw.call("PUT", buyer, "/v1/admin/responses/settings", json={"emit_responses": True})
    purchase = await gw.receive(buyer, delivered)
    status, _ = await gw.call(
        "POST",
        buyer,
        f"/v1/documents/{purchase['id']}/status",
        json={"status": "paid", "actor": "Jo from accounts"},
    )
    assert status == 200
    sales = await gw.doc(acme, sales_id)
    assert sales["status"] == "paid"
    last = sales["history"][-1]
    buyer_key_id = buyer.split("_")[1]
    assert last["actor"] == (
        f"imr:{BUYER} via local tenant:buyer-co key:{buyer_key_id} (Jo from accounts)"
    )
    purchase_history = (await gw.doc(buyer, purchase["id"]))["history"]
    assert purchase_history[-1]["actor"] == "Jo from accounts"
    assert (last["tenant"], last["key_id"]) == ("buyer-co", buyer_key_id)
    assert (purchase_history[-1]["tenant"], purchase_history[-1]["key_id"]) == (
        "buyer-co",
        buyer_key_id,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _send_mail(port: int, xml: bytes) -> str:
    def send() -> str:
        msg = EmailMessage()
        msg["From"] = "nobody@attacker.test"
        msg["To"] = "invoices@gateway.example"
        msg["Subject"] = "Payment confirmation"
        msg["Message-ID"] = "<forged-1@attacker.test>"
        msg.set_content("Paid.")
        msg.add_attachment(xml, maintype="application", subtype="xml", filename="response.xml")
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo()
            smtp.mail("nobody@attacker.test")
            smtp.rcpt("invoices@gateway.example")
            code, reply = smtp.data(msg.as_bytes(policy=policy.SMTP))  # CRLF, as MTAs send
        assert code == 250, reply
        return reply.decode()

    return await asyncio.to_thread(send)


async def test_anonymous_email_response_is_never_applied(
    gw_factory: Any, make_invoice: Any, store_url: str
) -> None:
    port = _free_port()
    gw = await gw_factory(settings={"database_url": store_url, "smtp": {"port": port}})
    acme, sales_id, _ = await _acme_invoice(gw, make_invoice)  # acme's id is not registered

    reply = await _send_mail(port, invoice_response("PD", "IMR-FORGED-1", NUMBER))
    assert "(unroutable)" in reply
    sales = await gw.doc(acme, sales_id)
    assert sales["status"] == "delivered" and sales["invoice_responses"] == []
    async with gw.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(InvoiceResponseRecord)) == 0
    # Only an operator sees the stranded mail, with who sent it.
    async with gw.db.write() as s:
        _, op = await repo.create_api_key(s, "operator", [], operator=True)
    _, stranded = await gw.call("GET", op, "/v1/admin/unrouted")
    [doc] = stranded["items"]
    assert doc["metadata"]["email"]["from"] == "nobody@attacker.test"
    _, listed = await gw.call("GET", acme, "/v1/admin/responses")
    assert listed["items"] == []

    # Routed to acme, it is held (e-mail proves nothing), listed with the sender; no change.
    status, routed = await gw.call(
        "POST", op, f"/v1/admin/documents/{doc['id']}/route", json={"tenant": "acme"}
    )
    assert status == 200 and routed["status"] == "received", routed
    sales = await gw.doc(acme, sales_id)
    assert sales["status"] == "delivered"
    [held] = sales["invoice_responses"]
    assert held["state"] == "held"
    assert held["detail"] == (
        f"not applied: e-mail from nobody@attacker.test does not prove that {BUYER} sent it"
    )
    assert held["proof"]["submitted_by"]["from"] == "nobody@attacker.test"
    _, listed = await gw.call("GET", acme, "/v1/admin/responses?state=held")
    assert [i["document_id"] for i in listed["items"]] == [doc["id"]]
    # A held response takes no de-duplication key: the real one is not blocked by it.
    async with gw.db.read() as s:
        rec = await s.scalar(select(InvoiceResponseRecord))
        assert rec is not None and rec.dedupe_key is None
