"""Real SMTP into the real intake pipeline: validator with official artefacts, SQLite store.

Checks what ends up in the database: one document per invoice (channel ``email``, routed to
its tenant by the buyer's endpoint id), a malformed part reported but not a document, the mail
context and attachments kept, and a byte-identical re-send stored as a duplicate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.store import Document, repo
from gateway.validation import Validator
from tests.inbound.email.mailbuild import attach, facturx_pdf, new_mail, send, wire
from tests.inbound.email.mailstack import Stack, running_stack


@pytest.fixture(scope="module")
def validator(installed_data_dir: Path) -> Iterator[Validator]:
    """One validator per module, in a worker process (Saxon stays out of the test process)."""
    with Validator(installed_data_dir / "artefacts", jobs=1) as v:
        yield v


@pytest.fixture
async def stack(
    tmp_path: Path, installed_data_dir: Path, validator: Validator
) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, installed_data_dir, validator) as running:
        yield running


async def test_mail_invoices_are_validated_routed_and_stored(
    stack: Stack, ubl_bytes: bytes, cii_bytes: bytes
) -> None:
    pdf = facturx_pdf(cii_bytes)
    msg = new_mail("Invoices March")
    attach(msg, ubl_bytes, "base-example.xml")
    attach(msg, pdf, "R-1234567.pdf", "application/pdf")
    raw = wire(msg)

    code, text = await send(stack.channel.port, raw)

    assert code == 250, text
    async with stack.db.read() as session:
        docs = list(await session.scalars(select(Document).where(Document.channel == "email")))
        by_sha = {d.sha256: d for d in docs}
        ubl = by_sha[repo.sha256_hex(ubl_bytes)]
        cii = by_sha[repo.sha256_hex(cii_bytes)]
        assert len(docs) == 2
        assert (ubl.status, ubl.tenant, ubl.channel) == ("received", "acme", "email")
        assert (cii.status, cii.tenant, cii.scenario) == ("received", "kosit", "xrechnung-3.0-cii")
        assert (await repo.get_raw(session, ubl.id, "acme"))[0] == ubl_bytes
        assert (await repo.get_raw(session, cii.id, "kosit"))[0] == cii_bytes
        for doc in (ubl, cii):
            assert doc.id.encode() in text
        assert cii.meta["email"]["subject"] == "Invoices March"
        assert cii.meta["email"]["invoice"]["container"]["filename"] == "R-1234567.pdf"
        stored = await repo.attachments(session, cii.id)
        assert [(a.filename, a.sha256) for a in stored] == [
            ("R-1234567.pdf", repo.sha256_hex(pdf)),
            ("original-message.eml", repo.sha256_hex(raw)),
        ]


async def test_same_invoice_resent_is_a_duplicate(stack: Stack, ubl_bytes: bytes) -> None:
    first = new_mail("Invoice")
    attach(first, ubl_bytes, "invoice.xml")
    again = new_mail("Reminder: Invoice", text="Second copy, please pay.")
    attach(again, ubl_bytes, "invoice-copy.xml")

    assert (await send(stack.channel.port, wire(first)))[0] == 250
    code, text = await send(stack.channel.port, wire(again))

    assert code == 250 and b"(duplicate)" in text
    async with stack.db.read() as session:
        docs = await repo.list_documents(session, tenant="acme")
        statuses = sorted((d.status, d.duplicate_of is None) for d in docs)
        assert statuses == [("duplicate", False), ("received", True)]
        original = next(d for d in docs if d.status == "received")
        assert next(d for d in docs if d.status == "duplicate").duplicate_of == original.id


async def test_malformed_attachment_is_not_a_document(stack: Stack, ubl_bytes: bytes) -> None:
    broken = b"<Invoice><oops></Invoice>"
    msg = new_mail("Broken export")
    attach(msg, ubl_bytes, "good.xml")
    attach(msg, broken, "broken.xml")

    code, text = await send(stack.channel.port, wire(msg))

    assert code == 250, text
    assert b"not readable: broken.xml (not-well-formed)" in text
    async with stack.db.read() as session:
        docs = list(await session.scalars(select(Document).where(Document.channel == "email")))
        (good,) = docs
        assert good.sha256 == repo.sha256_hex(ubl_bytes) and good.status == "received"
        (unreadable,) = good.meta["email"]["unreadable"]
        assert (unreadable["part"], unreadable["code"]) == ("broken.xml", "not-well-formed")
        stored = await repo.attachments(session, good.id)
        assert "broken.xml" in [a.filename for a in stored]  # kept, as a part of the mail
