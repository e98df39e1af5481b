"""Factur-X over REST: ``POST /v1/documents`` takes ``application/pdf``, keeps the PDF bytes
as received and validates the invoice XML inside (the ``container = "pdf"`` scenarios); a PDF
without one is refused with problem+json ``no-invoice-in-pdf`` and nothing is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.store import Document
from tests.french_invoices import factur_x_pdf, french_invoice


async def _post(gw: Any, key: str, body: bytes, ctype: str) -> tuple[int, Any, str]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": ctype}
    async with gw.http.post(gw.url + "/v1/documents", data=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None), resp.content_type


async def test_a_factur_x_pdf_is_stored_as_received_and_validated_inside(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    pdf = factur_x_pdf(french_invoice(corpus_dir, "cii", number="PDF-1"))
    status, body, _ = await _post(gw, key, pdf, "application/pdf")
    assert status == 201, body
    assert body["validation"]["scenario"] == "fr-ctc-factur-x-en16931"
    assert body["validation"]["accepted"] and body["status"] == "received"
    status, raw = await gw.call("GET", key, f"/v1/documents/{body['id']}/content")
    assert status == 200 and raw == pdf
    async with gw.db.read() as s:
        doc = await s.scalar(select(Document).where(Document.id == body["id"]))
        assert doc.content_type == "application/pdf" and doc.number == "PDF-1"

    # The French rules run on the XML inside: a wrong rate is found.
    bad = factur_x_pdf(french_invoice(corpus_dir, "cii", number="PDF-2", rate="21"))
    status, body, _ = await _post(gw, key, bad, "application/pdf")
    assert status == 201 and body["status"] == "invalid"
    assert "BR-FR-16_BT-152" in {f["rule"] for f in body["validation"]["findings"]}


async def test_a_pdf_without_an_invoice_is_refused_and_nothing_is_stored(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    status, body, ctype = await _post(gw, key, factur_x_pdf(None), "application/pdf")
    assert (status, body["code"], ctype) == (422, "no-invoice-in-pdf", "application/problem+json")
    status, body, _ = await _post(gw, key, b"<Invoice/>", "application/pdf")
    assert (status, body["code"]) == (400, "not-a-pdf")
    async with gw.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Document)) == 0
