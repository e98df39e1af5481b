"""Tenants who choose e-mail: received invoices forwarded to their inbox (XML + PDF)."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from gateway.store import repo
from gateway.web import DB
from tests.mail.conftest import MailGateway
from tests.waiting import until_value


async def _received(gw: MailGateway, raw: bytes) -> str:
    headers = gw.key | {"Content-Type": "application/xml"}
    async with gw.http.post(gw.url + "/v1/documents", data=raw, headers=headers) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return str(body["id"])


async def _until_doc(gw: MailGateway, doc_id: str, pred: Any, timeout: float = 120.0) -> Any:
    return await until_value(
        lambda: gw.document(doc_id), pred, timeout, f"document {doc_id}", interval=0.1
    )


async def test_received_invoice_is_forwarded_by_mail(
    mail_gateway: MailGateway, invoice: bytes
) -> None:
    async with mail_gateway.app[DB].write() as s:
        await repo.set_webhook(s, "acme", "mailto:ap@acme.example")
    mail_gateway.relay.replies.append("451 4.3.0 mailbox busy")  # one transient failure first
    doc_id = await _received(mail_gateway, invoice)
    doc = await _until_doc(mail_gateway, doc_id, lambda d: d["status"] == "forwarded")

    relay = mail_gateway.relay
    assert [r.reply[:3] for r in relay.received] == ["451", "250"]
    mail = relay.accepted[0]
    assert mail.rcpt_tos == ["ap@acme.example"]
    msg = mail.message
    assert msg["Message-ID"] == relay.received[0].message["Message-ID"]  # same mail, retried
    files = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert files["123456XX.xml"] == invoice
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(files["123456XX.pdf"])).pages)
    assert "123456XX" in text
    [delivery] = doc["deliveries"]
    assert delivery["state"] == "delivered" and len(delivery["attempts"]) == 2


async def test_a_5xx_fails_the_forwarding_at_once(
    mail_gateway: MailGateway, invoice: bytes
) -> None:
    async with mail_gateway.app[DB].write() as s:
        await repo.set_webhook(s, "acme", "mailto:ap@acme.example")
    mail_gateway.relay.replies.append("550 5.1.1 no such mailbox")
    doc_id = await _received(mail_gateway, invoice)
    doc = await _until_doc(
        mail_gateway, doc_id, lambda d: d["deliveries"] and d["deliveries"][0]["state"] != "pending"
    )
    [delivery] = doc["deliveries"]
    assert delivery["state"] == "failed" and len(delivery["attempts"]) == 1
    assert "no such mailbox" in delivery["attempts"][0]["error"]
    assert doc["status"] == "received"  # not forwarded
