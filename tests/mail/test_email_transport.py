"""The ``email`` transport end to end: REST submission -> queue -> real relay (STARTTLS, AUTH)."""

from __future__ import annotations

import io
import re

import aiosmtplib
from pypdf import PdfReader, PdfWriter

from tests.mail.conftest import FROM, MailGateway


def _tiny_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _attachments(message: object) -> dict[str, tuple[str, bytes]]:
    return {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()  # type: ignore[attr-defined]
    }


async def test_invoice_mailed_with_xml_rendered_pdf_and_extra_attachment(
    mail_gateway: MailGateway, invoice: bytes
) -> None:
    extra = b"delivery note 4711\n"
    doc_id = await mail_gateway.send(invoice, ("lieferschein.txt", "text/plain", extra))
    item = await mail_gateway.wait_state(doc_id, "delivered", "failed")
    assert item["status"] == "delivered", item
    assert item["endpoint"].startswith("email mailto:buyer@info.de")

    [mail] = mail_gateway.relay.received
    assert mail.tls and mail.authenticated  # STARTTLS first, then AUTH, then the mail
    assert mail.mail_from == FROM
    assert mail.rcpt_tos == ["buyer@info.de"]  # the buyer's EM electronic address
    msg = mail.message
    assert msg["Message-ID"] == f"<{item['message_id']}>"
    assert "123456XX" in msg["Subject"]
    files = _attachments(msg)
    assert files["123456XX.xml"] == ("application/xml", invoice)
    assert files["lieferschein.txt"] == ("text/plain", extra)
    ctype, pdf = files["123456XX.pdf"]  # no PDF given: the gateway's rendering
    assert ctype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "123456XX" in text


async def test_client_pdf_is_sent_and_4xx_is_retried_with_the_same_message_id(
    mail_gateway: MailGateway, invoice: bytes
) -> None:
    relay = mail_gateway.relay
    relay.replies.extend(["451 4.7.1 greylisted, try again", "421 4.3.2 system busy"])
    own = _tiny_pdf()
    doc_id = await mail_gateway.send(invoice, ("rechnung.pdf", "application/pdf", own))
    item = await mail_gateway.wait_state(doc_id, "delivered", "failed")
    assert item["status"] == "delivered", item
    assert [r.reply[:3] for r in relay.received] == ["451", "421", "250"]
    ids = {r.message["Message-ID"] for r in relay.received}
    assert ids == {f"<{item['message_id']}>"}  # one mail, three attempts
    outcomes = [(a["outcome"], a["error_code"]) for a in item["attempt_log"]]
    assert outcomes == [("transient", "smtp-451"), ("transient", "smtp-421"), ("delivered", None)]
    files = _attachments(relay.accepted[0].message)
    assert files["rechnung.pdf"] == ("application/pdf", own)  # the client's own, not a rendering
    assert sum(1 for ctype, _ in files.values() if ctype == "application/pdf") == 1


async def test_5xx_fails_at_once(mail_gateway: MailGateway, invoice: bytes) -> None:
    mail_gateway.relay.replies.append("554 5.7.1 message refused by policy")
    doc_id = await mail_gateway.send(invoice, ("rechnung.pdf", "application/pdf", _tiny_pdf()))
    item = await mail_gateway.wait_state(doc_id, "delivered", "failed")
    assert item["status"] == "failed"
    assert item["attempts"] == 1
    assert item["last_error_code"] == "smtp-554"
    assert "message refused by policy" in item["last_error"]


def _dsn(message_id: str, action: str = "failed") -> bytes:
    """A DSN as Postfix writes one (RFC 3464), returning the original headers."""
    return (
        "From: MAILER-DAEMON@mx.info.de\r\n"
        f"To: {FROM}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.info.de>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"\r\n'
        "\r\n"
        "--B0UND\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B0UND\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.info.de\r\n\r\n"
        "Final-Recipient: rfc822; buyer@info.de\r\n"
        f"Action: {action}\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <buyer@info.de>: Recipient address rejected\r\n"
        "\r\n"
        "--B0UND\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: {FROM}\r\n"
        "To: buyer@info.de\r\n"
        "Subject: Invoice 123456XX\r\n"
        f"Message-ID: {message_id}\r\n"
        "\r\n"
        "--B0UND--\r\n"
    ).encode()


async def _mail_to_gateway(gw: MailGateway, raw: bytes) -> str:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=gw.smtp_port, timeout=60) as client:
        _, reply = await client.sendmail("", [FROM], raw)  # null sender, as bounces have
    return reply


async def test_bounce_marks_the_delivery_failed(mail_gateway: MailGateway, invoice: bytes) -> None:
    doc_id = await mail_gateway.send(invoice, ("rechnung.pdf", "application/pdf", _tiny_pdf()))
    item = await mail_gateway.wait_state(doc_id, "delivered", "failed")
    assert item["status"] == "delivered"
    sent_id = mail_gateway.relay.accepted[0].message["Message-ID"]

    # A report that is not a failure, and a bounce of somebody else's mail: noted, nothing moves.
    assert "no failure" in await _mail_to_gateway(mail_gateway, _dsn(sent_id, action="delayed"))
    assert "not a message of ours" in await _mail_to_gateway(
        mail_gateway, _dsn("<someone-else@example.org>")
    )
    assert (await mail_gateway.item(doc_id))["status"] == "delivered"

    reply = await _mail_to_gateway(mail_gateway, _dsn(sent_id))
    assert doc_id in reply
    item = await mail_gateway.item(doc_id)
    assert item["status"] == "failed"
    assert item["last_error_code"] == "email-bounce"
    assert "5.1.1" in item["last_error"] and "buyer@info.de" in item["last_error"]
    doc = await mail_gateway.document(doc_id)
    assert doc["status"] == "failed"
    last = doc["history"][-1]
    assert (last["from"], last["to"]) == ("delivered", "failed")
    assert re.search(r"Recipient address rejected", last["reason"])
    # The bounce was not taken for an incoming invoice.
    async with mail_gateway.http.get(
        mail_gateway.url + "/v1/documents?direction=inbound", headers=mail_gateway.key
    ) as resp:
        assert (await resp.json())["items"] == []
