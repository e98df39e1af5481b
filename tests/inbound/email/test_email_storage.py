"""Bounded storage per message (issue 14, items 2 and 3), on SQLite and PostgreSQL.

Real SMTP over loopback into the real pipeline and store. The bytes a mail adds to the
database are measured with SQL ``length()`` over every table holding bytes, and compared with
what the mail is: before, each of 50 broken XML parts became a document with its own copy of
the whole mail (a 2.75 MB mail wrote 238 MB).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import smtplib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from gateway.inbound.email.mime import parse_mail
from gateway.inbound.email.submissions import stored_bytes
from gateway.store import Attachment, Blob, Document, InboundMessage
from tests.inbound.email.mailbuild import attach, new_mail, send, wire
from tests.inbound.email.mailstack import Stack, running_stack


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield ""
        return
    async with request.getfixturevalue("pg_databases")() as url:
        yield url


@pytest.fixture
async def stack(
    tmp_path: Path, installed_data_dir: Path, validator: Any, database_url: str
) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, installed_data_dir, validator, database_url) as s:
        yield s


async def _stored(stack: Stack) -> dict[str, int]:
    """Rows and bytes in every table that holds received bytes."""
    async with stack.db.read() as s:
        return {
            "documents": await s.scalar(select(func.count()).select_from(Document)) or 0,
            "blobs": await s.scalar(select(func.count()).select_from(Blob)) or 0,
            "attachments": await s.scalar(select(func.count()).select_from(Attachment)) or 0,
            "messages": await s.scalar(select(func.count()).select_from(InboundMessage)) or 0,
            "bytes": int(
                await s.scalar(
                    text(
                        "SELECT (SELECT coalesce(sum(length(raw)), 0) FROM documents)"
                        " + (SELECT coalesce(sum(length(data)), 0) FROM blobs)"
                        " + (SELECT coalesce(sum(length(data)), 0) FROM attachments)"
                    )
                )
                or 0
            ),
        }


def _numbered(ubl: bytes, number: str) -> bytes:
    out = re.sub(rb"<cbc:ID>[^<]*</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), ubl, count=1)
    assert out != ubl
    return out


def _hostile_mail(ubl: bytes) -> bytes:
    """Three invoices, a 1 MB PDF, 50 broken XML parts, an 8-bit subject, a NUL in a name."""
    msg = new_mail("Invoices")
    for n in range(3):
        attach(msg, _numbered(ubl, f"EDGE-{n}"), f"invoice-{n}.xml")
    attach(msg, b"%PDF-1.4\n" + os.urandom(1_000_000), "scan.pdf", "application/pdf")
    for n in range(50):
        attach(msg, f"<Invoice><broken-{n}>".encode(), f"broken-{n}.xml")
    raw = wire(msg)
    raw = raw.replace(b"Subject: Invoices", b"Subject: Rechnungen \xff\xfe M\xe4rz", 1)
    raw = raw.replace(b'filename="invoice-0.xml"', b"filename*=utf-8''inv%00oice-0.xml", 1)
    raw = raw.replace(b'filename="scan.pdf"', b"filename*=utf-8''sc%00an.pdf", 1)
    return raw


async def test_one_mail_is_stored_once_and_bounded(stack: Stack, ubl_bytes: bytes) -> None:
    raw = _hostile_mail(ubl_bytes)
    bound = stored_bytes(parse_mail(raw), raw)
    before = await _stored(stack)

    code, reply = await send(stack.channel.port, raw)

    assert code == 250, reply
    assert b"3 document(s) stored" in reply and b"broken-0.xml (not-well-formed)" in reply
    after = await _stored(stack)
    added = after["bytes"] - before["bytes"]
    # Every byte stored once: the raw mail, the PDF, the invoices; nothing per document.
    assert added <= bound, (added, bound)
    assert added < 2.2 * len(raw), (added, len(raw))
    assert after["documents"] - before["documents"] == 3  # broken parts are not documents
    assert after["messages"] - before["messages"] == 1
    async with stack.db.read() as s:
        docs = list(await s.scalars(select(Document).order_by(Document.seq)))
        meta = docs[0].meta["email"]
        assert "\ufffd" in meta["subject"]  # undecodable bytes replaced, stored on PostgreSQL too
        assert len(meta["unreadable"]) == 50
        assert docs[0].meta["filename"] == "inv\ufffdoice-0.xml"  # NUL replaced in metadata
        names = {a.filename for a in await s.scalars(select(Attachment))}
        broken = {f"broken-{n}.xml" for n in range(50)}  # kept as parts of the mail
        assert names == {"sc\ufffdan.pdf", "original-message.eml"} | broken

    # The same mail again (our 250 was lost): same documents, nothing new.
    code, again = await send(stack.channel.port, raw)
    assert code == 250 and b"already stored" in again, again
    assert [m for m in re.findall(rb"[0-9a-f]{32}", again)] == re.findall(rb"[0-9a-f]{32}", reply)
    assert await _stored(stack) == after


async def test_a_value_that_cannot_be_stored_bounces_the_mail(
    stack: Stack, ubl_bytes: bytes
) -> None:
    """PostgreSQL used to answer 451 forever, each retry storing the other invoices again."""
    msg = new_mail("Long id")
    attach(msg, _numbered(ubl_bytes, "OK-1"), "fine.xml")
    attach(msg, _numbered(ubl_bytes, "X" * 201), "long-id.xml")
    raw = wire(msg)
    for _ in range(2):  # the retry gets the same permanent answer
        code, reply = await send(stack.channel.port, raw)
        assert code == 550, reply
        assert reply.startswith(b"5.6.0 long-id.xml: invoice number (cbc:ID"), reply
        assert b"longer than 200 characters (201)" in reply and b"nothing was stored" in reply
    assert (await _stored(stack))["documents"] == 0  # the fine invoice was not stored alone


async def test_limits_per_message(
    tmp_path: Path, installed_data_dir: Path, validator: Any, ubl_bytes: bytes
) -> None:
    limits = {"max_parts": 20, "max_invoices": 2, "max_stored_bytes": 400_000}
    async with running_stack(tmp_path, installed_data_dir, validator, smtp=limits) as stack:
        many_parts = new_mail("Parts")
        for n in range(25):
            attach(many_parts, b"x", f"note-{n}.txt", "text/plain")
        many_invoices = new_mail("Invoices")
        for n in range(3):
            attach(many_invoices, _numbered(ubl_bytes, f"L-{n}"), f"i{n}.xml")
        big = new_mail("Big")
        attach(big, ubl_bytes, "i.xml")
        attach(big, os.urandom(300_000), "scan.bin", "application/octet-stream")

        for mail, expected in (
            (many_parts, b"5.3.4 the message has more than 20 MIME parts"),
            (many_invoices, b"5.3.4 3 invoices in one message; at most 2"),
            (big, b"5.3.4 storing this message takes"),
        ):
            started = time.monotonic()
            code, reply = await send(stack.channel.port, wire(mail))
            assert (code, reply[: len(expected)]) == (552, expected), reply
            assert b"nothing was stored" in reply
            assert time.monotonic() - started < 30
        assert (await _stored(stack))["documents"] == 0


def _sessions_scenario(port: int) -> None:
    """Blocking smtplib, run in a thread (the server lives on the test's event loop)."""
    first = smtplib.SMTP("127.0.0.1", port, timeout=10)
    second = smtplib.SMTP("127.0.0.1", port, timeout=10)
    try:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", port, timeout=10)
        assert refused.value.smtp_code == 421
        # Idle sessions are closed after smtp.timeout; then there is room again.
        time.sleep(2.5)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            first.noop()
    finally:
        for client in (first, second):
            with contextlib.suppress(OSError):
                client.close()
    third = smtplib.SMTP("127.0.0.1", port, timeout=10)
    assert third.noop()[0] == 250
    third.quit()


async def test_concurrent_sessions_and_idle_clients_are_bounded(
    tmp_path: Path, installed_data_dir: Path, validator: Any
) -> None:
    async with running_stack(
        tmp_path, installed_data_dir, validator, smtp={"max_sessions": 2, "timeout": 1.0}
    ) as stack:
        await asyncio.to_thread(_sessions_scenario, stack.channel.port)


def _busy_client(port: int) -> float:
    """NOOP every 0.3 s (never silent); seconds until the server hangs up."""
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    started = time.monotonic()
    with contextlib.suppress(smtplib.SMTPServerDisconnected, OSError):
        while time.monotonic() - started < 20:
            client.noop()
            time.sleep(0.3)
    return time.monotonic() - started


async def test_a_session_ends_after_max_session_seconds(
    tmp_path: Path, installed_data_dir: Path, validator: Any
) -> None:
    smtp = {"timeout": 10.0, "max_session_seconds": 1.5}
    async with running_stack(tmp_path, installed_data_dir, validator, smtp=smtp) as stack:
        lasted = await asyncio.to_thread(_busy_client, stack.channel.port)
    assert 1.4 <= lasted < 10, lasted
