"""Real SMTP (smtplib over loopback) against the running channel, with an in-memory intake.

The intake here is a small real object with the pipeline's ``submit`` signature that records
what it is given; the end-to-end tests with the real pipeline, store and REST API are in
``test_email_e2e.py``.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError, load_settings
from gateway.inbound.email import SmtpChannel
from gateway.inbound.intake import IntakeResult, Submission
from gateway.validation import ValidationReport
from tests.inbound.email.mailbuild import (
    RCPT,
    SENDER,
    attach,
    facturx_pdf,
    new_mail,
    self_signed,
    send,
    wire,
)


class RecordingIntake:
    """Keeps every submission; can be told to fail or to wait, like a real store might."""

    def __init__(self) -> None:
        self.submissions: list[Submission] = []
        self.fail_on: int | None = None  # 1-based submission number that raises
        self.gate: asyncio.Event | None = None  # when set: submit waits for it
        self.entered = asyncio.Event()
        self.calls = 0

    async def submit_all(self, subs: list[Submission], *, before: Any = None) -> list[IntakeResult]:
        """All of a mail's documents or none, like the real pipeline's one transaction."""
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_on == self.calls:
            raise RuntimeError("database is gone")
        out = []
        for sub in subs:
            self.submissions.append(sub)
            doc_id = f"doc-{len(self.submissions)}"
            out.append(IntakeResult(doc_id, "received", None, ValidationReport("accepted"), None))
        return out


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


async def _channel(intake: RecordingIntake, **smtp: Any) -> SmtpChannel:
    settings = load_settings(env={}, overrides={"smtp": {"host": "127.0.0.1", "port": 0, **smtp}})
    channel = SmtpChannel(settings, intake)
    await channel.start()
    return channel


@pytest.fixture
async def channel(intake: RecordingIntake) -> AsyncIterator[SmtpChannel]:
    ch = await _channel(intake)
    yield ch
    await ch.stop()


async def test_every_invoice_of_a_mail_is_submitted_with_its_context(
    channel: SmtpChannel, intake: RecordingIntake, ubl_bytes: bytes, cii_bytes: bytes
) -> None:
    pdf = facturx_pdf(cii_bytes)
    msg = new_mail("March invoices")
    attach(msg, ubl_bytes, "INV-12115118.xml")
    attach(msg, pdf, "R-4711.pdf", "application/pdf")
    attach(msg, b"terms and conditions", "agb.txt", "text/plain")
    raw = wire(msg)

    code, text = await send(channel.port, raw)

    assert code == 250, text
    assert b"2 document(s) stored: doc-1 (received) doc-2 (received)" in text
    first, second = intake.submissions
    assert first.raw == ubl_bytes and second.raw == cii_bytes
    for sub in intake.submissions:
        assert (sub.channel, sub.tenant, sub.direction) == ("email", None, "inbound")
        meta = sub.metadata["email"]
        assert meta["from"] == "Seller Billing <billing@seller.example>"
        assert meta["subject"] == "March invoices"
        assert meta["message_id"] == "<March-invoices@seller.example>"
        assert meta["envelope"]["mail_from"] == SENDER
        assert meta["envelope"]["rcpt_to"] == [RCPT]
        assert meta["envelope"]["peer"] == "127.0.0.1"
        names = [a.filename for a in sub.attachments]
        assert names == ["R-4711.pdf", "agb.txt", "original-message.eml"]
        assert sub.attachments[0].data == pdf
        assert sub.attachments[-1].data == raw  # the message exactly as received
        assert [a["filename"] for a in meta["attachments"]] == names
        assert all(len(a["sha256"]) == 64 for a in meta["attachments"])
    assert first.metadata["filename"] == "INV-12115118.xml"
    assert first.metadata["email"]["invoice"]["source"] == "attachment"
    origin = second.metadata["email"]["invoice"]
    assert (origin["source"], origin["filename"], origin["index"], origin["count"]) == (
        "pdf",
        "factur-x.xml",
        2,
        2,
    )
    assert origin["container"]["filename"] == "R-4711.pdf"


async def test_mail_without_invoice_is_refused_with_550(
    channel: SmtpChannel, intake: RecordingIntake
) -> None:
    msg = new_mail("Out of office", text="I am on holiday until Monday.")
    attach(msg, facturx_pdf(b"no invoice", name="notes.txt"), "scan.pdf", "application/pdf")

    code, text = await send(channel.port, wire(msg))

    assert code == 550
    assert b"no UBL/CII invoice found in message" in text
    assert intake.calls == 0


async def test_oversized_mail_gets_552_declared_or_not(
    intake: RecordingIntake, ubl_bytes: bytes
) -> None:
    channel = await _channel(intake, max_message_bytes=20_000)
    try:
        msg = new_mail("Big")
        attach(msg, ubl_bytes, "invoice.xml")
        attach(msg, b"x" * 30_000, "scan.bin", "application/octet-stream")
        raw = wire(msg)

        declared = await send(channel.port, raw)  # SIZE= on MAIL FROM: refused up front
        undeclared = await send(channel.port, raw, size_option=False)  # refused after DATA
        small = new_mail("Small")
        attach(small, ubl_bytes, "invoice.xml")
        ok = await send(channel.port, wire(small))
    finally:
        await channel.stop()

    assert declared[0] == 552 and b"exceeds" in declared[1]
    assert undeclared[0] == 552
    assert ok[0] == 250
    assert [s.raw for s in intake.submissions] == [ubl_bytes]


async def test_mail_whose_only_invoice_is_unreadable_is_refused_with_the_reason(
    channel: SmtpChannel, intake: RecordingIntake
) -> None:
    """Issue 13, item 8: no document for nobody; the sender learns why at once."""
    msg = new_mail("Broken")
    ubl_ns = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    attach(msg, f"<Invoice xmlns='{ubl_ns}'>".encode(), "bad.xml")

    code, text = await send(channel.port, wire(msg))

    assert code == 550, text
    assert text.startswith(b"5.6.0 bad.xml: not a readable invoice (not-well-formed:"), text
    assert b"nothing was stored" in text
    assert intake.calls == 0 and intake.submissions == []


async def test_storage_failure_answers_451_and_the_retry_stores_everything(
    channel: SmtpChannel, intake: RecordingIntake, ubl_bytes: bytes, cii_bytes: bytes
) -> None:
    msg = new_mail("Retry me")
    attach(msg, ubl_bytes, "a.xml")
    attach(msg, cii_bytes, "b.xml")
    intake.fail_on = 1

    first = await send(channel.port, wire(msg))
    second = await send(channel.port, wire(msg))

    assert first[0] == 451  # temporary: the sender's MTA keeps the mail and retries
    assert second[0] == 250
    # all or nothing: the failed attempt stored nothing, the retry stores each invoice once
    assert [s.raw for s in intake.submissions] == [ubl_bytes, cii_bytes]


async def test_stop_lets_a_mail_being_stored_finish(
    intake: RecordingIntake, ubl_bytes: bytes
) -> None:
    channel = await _channel(intake)
    port = channel.port
    intake.gate = asyncio.Event()
    msg = new_mail("In flight")
    attach(msg, ubl_bytes, "a.xml")
    sending = asyncio.create_task(send(port, wire(msg), noop=False))
    await asyncio.wait_for(intake.entered.wait(), 10)

    stopping = asyncio.create_task(channel.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # waiting for the mail being stored
    intake.gate.set()
    await asyncio.wait_for(stopping, 10)

    code, _ = await asyncio.wait_for(sending, 10)
    assert code == 250
    assert len(intake.submissions) == 1
    with pytest.raises(OSError):  # no longer listening
        await asyncio.to_thread(smtplib.SMTP, "127.0.0.1", port, timeout=2)


def _send_tls(port: int, raw: bytes, starttls: bool) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("seller-mta.example")
        if starttls:
            assert client.has_extn("starttls")
            client.starttls(context=ssl._create_unverified_context())  # self-signed test cert
            client.ehlo("seller-mta.example")
            assert client.sock is not None and client.sock.version() in ("TLSv1.2", "TLSv1.3")
        code, text = client.mail(SENDER)
        if code != 250:
            return code, text
        client.rcpt(RCPT)
        return client.data(raw)


async def test_starttls_offered_and_required(
    intake: RecordingIntake, ubl_bytes: bytes, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    channel = await _channel(
        intake, tls_cert_file=str(cert), tls_key_file=str(key), require_tls=True
    )
    msg = new_mail("Over TLS")
    attach(msg, ubl_bytes, "a.xml")
    try:
        plain = await asyncio.to_thread(_send_tls, channel.port, wire(msg), False)
        secure = await asyncio.to_thread(_send_tls, channel.port, wire(msg), True)
    finally:
        await channel.stop()

    assert plain[0] == 530  # clear text refused before anything is transferred
    assert secure[0] == 250
    assert [s.raw for s in intake.submissions] == [ubl_bytes]


def test_require_tls_without_certificate_is_a_config_error(intake: RecordingIntake) -> None:
    settings = load_settings(env={}, overrides={"smtp": {"port": 0, "require_tls": True}})
    with pytest.raises(ConfigError, match="require_tls"):
        SmtpChannel(settings, intake)
