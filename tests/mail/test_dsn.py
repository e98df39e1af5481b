"""RFC 3464 reports as different MTAs write them."""

from __future__ import annotations

import pytest

from gateway.mail import mail_addresses, parse_bounce
from gateway.outbound import EmailTransport, Endpoint, OutboundMessage, PermanentError

RFC822_RETURNED = (
    b"From: postmaster@mx.example\r\n"
    b"To: billing@seller.example\r\n"
    b"Subject: Delivery Status Notification (Failure)\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type="delivery-status"; boundary="x"\r\n\r\n'
    b"--x\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    b"--x\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns;mx.example\r\n\r\n"
    b"Original-Recipient: rfc822;ap@buyer.example\r\n"
    b"Final-Recipient: rfc822;ap@buyer.example\r\n"
    b"Action: failed\r\nStatus: 5.2.2\r\n"
    b"Diagnostic-Code: smtp;552 5.2.2 mailbox full\r\n\r\n"
    b"Final-Recipient: rfc822;cc@buyer.example\r\n"
    b"Action: delivered\r\nStatus: 2.0.0\r\n\r\n"
    b"--x\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: billing@seller.example\r\nMessage-ID: <abc@einvoice-gateway>\r\n"
    b"Subject: Invoice 1\r\n\r\nbody\r\n"
    b"--x--\r\n"
)


def test_returned_message_and_per_recipient_actions() -> None:
    bounce = parse_bounce(RFC822_RETURNED)
    assert bounce is not None
    assert bounce.original_message_id == "<abc@einvoice-gateway>"
    assert bounce.reporting_mta == "mx.example"
    assert [r.recipient for r in bounce.failed] == ["ap@buyer.example"]
    assert bounce.reason() == (
        "bounced (DSN from mx.example): ap@buyer.example: 5.2.2 552 5.2.2 mailbox full"
    )


def test_ordinary_mail_and_other_reports_are_not_bounces() -> None:
    assert parse_bounce(b"From: a@b\r\nSubject: hi\r\n\r\ntext\r\n") is None
    mdn = RFC822_RETURNED.replace(b'delivery-status"', b'disposition-notification"')
    assert parse_bounce(mdn) is None


async def test_mail_addresses() -> None:
    assert mail_addresses("mailto:a@x.example, b@y.example") == ["a@x.example", "b@y.example"]
    # The transport refuses a bad address for good, before it builds or sends any mail.
    transport = EmailTransport(mailer=None)  # type: ignore[arg-type]
    item = OutboundMessage("d1", "m1@gw", b"<x/>", "0088:1", "0088:2", "", "")
    for bad in ("mailto:", "mailto:nobody", "mailto:a@x\r\nBcc: evil@z"):
        with pytest.raises(ValueError):
            mail_addresses(bad)
        with pytest.raises(PermanentError) as refused:
            await transport.send(item, Endpoint(bad, "email"))
        assert refused.value.code == "bad-address"
