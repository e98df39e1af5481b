"""E-mailed Invoice Responses: applied only from a sender the tenant listed, with a valid DKIM
signature of its own domain (a key generated here; DNS answered by the test)."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import socket
from email import policy
from email.message import EmailMessage
from typing import Any

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.responses.api import RESPONSES
from tests.live_gateway import BUYER, SELLER, invoice_response

NUMBER = "MAIL-2024-1"
SENDER = "billing@buyer.example"


def _key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def _mail(imr_id: str, code: str, private: bytes | None, *, tamper: bool = False) -> bytes:
    xml = invoice_response(code, imr_id, NUMBER)
    msg = EmailMessage()
    msg["From"] = f"Buyer Billing <{SENDER}>"
    msg["To"] = "invoices@gateway.example"
    msg["Subject"] = f"Invoice response {imr_id}"
    msg["Message-ID"] = f"<{imr_id}@buyer.example>"
    msg.set_content("Our response is attached.")
    msg.add_attachment(xml, maintype="application", subtype="xml", filename="response.xml")
    wire = msg.as_bytes(policy=policy.SMTP)
    if private is not None:
        signature = dkim.sign(
            wire,
            b"sel1",
            b"buyer.example",
            private,
            include_headers=[b"from", b"to", b"subject", b"message-id"],
        )
        wire = signature + wire
    if tamper:
        wire = wire.replace(b"Our response is attached.", b"Our response is attached!")
    return wire


async def _send(port: int, wire: bytes) -> None:
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo()
            smtp.mail(SENDER)
            smtp.rcpt("invoices@gateway.example")
            code, reply = smtp.data(wire)
        assert code == 250, reply

    await asyncio.to_thread(send)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_listed_sender_with_valid_dkim_is_applied(gw_factory: Any, make_invoice: Any) -> None:
    private, record = _key()
    port = _free_port()
    gw = await gw_factory(
        settings={"smtp": {"port": port}},
        email_trust=[{"tenant": "acme", "sender": SENDER, "participant": BUYER}],
    )
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record if name == b"sel1._domainkey.buyer.example." else b""

    gw.app[RESPONSES].email_trust.dnsfunc = dns
    key = await gw.key("acme")
    await gw.participant("acme", SELLER)
    inv = await gw.send_invoice(
        key, make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    )

    await _send(port, _mail("no-sig", "UQ", None))
    await _send(port, _mail("tampered", "UQ", private, tamper=True))
    body = await gw.doc(key, inv)
    assert body["status"] == "delivered"
    details = {r["response_id"]: (r["state"], r["detail"]) for r in body["invoice_responses"]}
    assert details["no-sig"] == (
        "held",
        f"not applied: e-mail from {SENDER} has no valid DKIM signature",
    )
    assert details["tampered"][0] == "held"

    await _send(port, _mail("signed-1", "AP", private))
    body = await gw.doc(key, inv)
    assert body["status"] == "accepted"
    applied = body["invoice_responses"][-1]
    assert (applied["response_id"], applied["state"]) == ("signed-1", "applied")
    assert applied["proof"]["submitted_by"]["dkim_domain"] == "buyer.example"
    assert body["history"][-1]["actor"] == f"imr:{BUYER} via email from Buyer Billing <{SENDER}>"
    assert b"sel1._domainkey.buyer.example." in asked


async def test_trust_is_a_tenant_setting_of_the_settings_api(
    gw_factory: Any, make_invoice: Any
) -> None:
    """No config: the tenant lists the sender through ``PUT /v1/admin/settings``. A DKIM-signed
    mail from it is applied; unsigned, or from an unlisted sender, is stored, held and listed
    for the admin; another tenant's list changes nothing for acme."""
    private, record = _key()
    port = _free_port()
    gw = await gw_factory(settings={"smtp": {"port": port}})
    gw.app[RESPONSES].email_trust.dnsfunc = lambda name, timeout=5: (
        record if name == b"sel1._domainkey.buyer.example." else b""
    )
    key = await gw.key("acme")
    other = await gw.key("other")
    await gw.participant("acme", SELLER)
    inv = await gw.send_invoice(
        key, make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    )
    rules = [{"sender": SENDER, "participant": BUYER}]
    status, body = await gw.call("PUT", other, "/v1/admin/settings", json={"email_trust": rules})
    assert status == 200 and body["email_trust"] == rules  # another tenant's list

    await _send(port, _mail("before-listing", "UQ", private))
    held = (await gw.doc(key, inv))["invoice_responses"][-1]
    assert (held["response_id"], held["state"]) == ("before-listing", "held")

    status, body = await gw.call(
        "PUT", key, "/v1/admin/settings", json={"email_trust": [{"sender": "not an address"}]}
    )
    assert status == 422 and body["code"] == "invalid-setting", body
    status, body = await gw.call(
        "PUT", key, "/v1/admin/settings", json={"email_trust": [{"sender": SENDER.upper()}]}
    )
    assert status == 200 and body["email_trust"] == [{"sender": SENDER, "participant": ""}]
    status, body = await gw.call("GET", key, "/v1/admin/settings")
    assert body["email_trust"] == [{"sender": SENDER, "participant": ""}]
    assert body["status_profile"] == {"inbound": "default", "outbound": "default"}

    await _send(port, _mail("unsigned", "UQ", None))
    await _send(port, _mail("signed-2", "AP", private))
    body = await gw.doc(key, inv)
    states = {r["response_id"]: r["state"] for r in body["invoice_responses"]}
    assert states == {"before-listing": "held", "unsigned": "held", "signed-2": "applied"}
    assert body["status"] == "accepted"
    status, listed = await gw.call("GET", key, "/v1/admin/responses?state=held")
    assert status == 200
    assert {r["response_id"] for r in listed["items"]} == {"before-listing", "unsigned"}
    assert all(r["proof"]["submitted_by"]["from"].endswith(f"<{SENDER}>") for r in listed["items"])
