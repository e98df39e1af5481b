"""REST intake, reading, listing, duplicates and the duplicate race, over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from gateway.store import Document, InboxItem

if TYPE_CHECKING:
    from tests.api_gateway import Gateway


async def test_submit_get_content_and_list_with_cursor(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme")
    status, body = await gateway.submit(key, ubl)
    assert status == 201, body
    assert body["status"] == "received"
    assert body["duplicate_of"] is None
    assert body["validation"]["accepted"] is True
    assert body["validation"]["scenario"] == "xrechnung-3.0-ubl-invoice"
    doc_id = body["id"]

    status, doc = await gateway.get(key, f"/v1/documents/{doc_id}")
    assert status == 200
    assert doc["number"] == "123456XX"
    assert doc["issue_date"] == "2016-04-04"
    assert doc["seller_id"] == "EM:seller@email.de"
    assert doc["payable_amount"] == "336.9" and doc["currency"] == "EUR"
    assert doc["sha256"] == hashlib.sha256(ubl).hexdigest()
    assert doc["channel"] == "api" and doc["direction"] == "inbound" and doc["tenant"] == "acme"
    assert [(h["from"], h["to"], h["source"]) for h in doc["history"]] == [
        (None, "received", "system")
    ]

    async with gateway.http.get(
        f"{gateway.url}/v1/documents/{doc_id}/content", headers=gateway.headers(key)
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/xml"
        assert await resp.read() == ubl  # exactly the bytes received

    for n in range(4):
        s, _ = await gateway.submit(key, gateway.renumber(ubl, f"LIST-{n}"))
        assert s == 201
    seen: list[str] = []
    cursor = "0"
    pages = 0
    while cursor is not None:
        s, page = await gateway.get(key, f"/v1/documents?limit=2&cursor={cursor}")
        assert s == 200
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        pages += 1
    assert len(seen) == 5 and len(set(seen)) == 5 and seen[0] == doc_id
    assert pages == 3
    s, page = await gateway.get(key, "/v1/documents?status=received&channel=api&limit=50")
    assert len(page["items"]) == 5
    s, page = await gateway.get(key, "/v1/documents?status=paid")
    assert page["items"] == []


async def test_same_bytes_twice_and_ubl_then_cii_are_duplicates(
    gateway: Gateway, ubl: bytes, cii: bytes
) -> None:
    key = await gateway.key("acme")
    _, first = await gateway.submit(key, ubl)
    _, again = await gateway.submit(key, ubl)
    _, as_cii = await gateway.submit(key, cii)
    assert first["status"] == "received"
    assert again["status"] == "duplicate" and again["duplicate_of"] == first["id"]
    assert as_cii["status"] == "duplicate" and as_cii["duplicate_of"] == first["id"]
    assert as_cii["validation"]["scenario"] == "xrechnung-3.0-cii"
    _, orig = await gateway.get(key, f"/v1/documents/{first['id']}")
    assert orig["status"] == "received"  # the original keeps its status
    _, dup = await gateway.get(key, f"/v1/documents/{as_cii['id']}")
    assert "same business key" in dup["status_reason"]
    # Duplicates are never forwarded: only the original is in the inbox.
    async with gateway.db.read() as s:
        inbox = list(await s.scalars(select(InboxItem.document_id)))
    assert inbox == [first["id"]]
    # Another tenant receiving the same invoice has its own original.
    other = await gateway.key("globex")
    _, theirs = await gateway.submit(other, ubl)
    assert theirs["status"] == "received"


async def test_twenty_concurrent_submissions_make_exactly_one_original(
    gateway: Gateway, ubl: bytes, cii: bytes
) -> None:
    key = await gateway.key("acme")
    bodies = [ubl if i % 2 else cii for i in range(20)]
    results = await asyncio.gather(*(gateway.submit(key, b) for b in bodies))
    assert all(status == 201 for status, _ in results)
    originals = [r for _, r in results if r["status"] == "received"]
    duplicates = [r for _, r in results if r["status"] == "duplicate"]
    assert len(originals) == 1 and len(duplicates) == 19
    assert {d["duplicate_of"] for d in duplicates} == {originals[0]["id"]}
    async with gateway.db.read() as s:
        count = await s.scalar(select(func.count()).select_from(Document))
    assert count == 20  # every submission's bytes were kept


async def test_invalid_documents_are_stored_and_never_forwarded(
    gateway: Gateway, ubl: bytes
) -> None:
    key = await gateway.key("acme")
    status, body = await gateway.submit(key, gateway.invalid(ubl))
    assert status == 201
    assert body["status"] == "invalid"
    assert body["validation"]["accepted"] is False
    assert any(f["rule"] == "BR-DE-15" for f in body["validation"]["findings"])
    _, doc = await gateway.get(key, f"/v1/documents/{body['id']}")
    assert "BR-DE-15" in doc["status_reason"]
    assert doc["validation"]["status"] == "rejected"
    async with gateway.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(InboxItem)) == 0
    # An invalid document does not block the corrected one.
    _, fixed = await gateway.submit(key, ubl)
    assert fixed["status"] == "received"


async def test_multipart_with_attachments(gateway: Gateway, ubl: bytes) -> None:
    import aiohttp

    key = await gateway.key("acme")
    form = aiohttp.FormData()
    form.add_field("document", ubl, filename="invoice.xml", content_type="application/xml")
    form.add_field("pdf", b"%PDF-1.4 fake", filename="invoice.pdf", content_type="application/pdf")
    async with gateway.http.post(
        gateway.url + "/v1/documents", data=form, headers=gateway.headers(key)
    ) as resp:
        assert resp.status == 201
        body = await resp.json()
    _, doc = await gateway.get(key, f"/v1/documents/{body['id']}")
    assert doc["status"] == "received"
    assert doc["attachments"] == [
        {
            "index": 0,
            "url": f"/v1/documents/{body['id']}/attachments/0",
            "filename": "invoice.pdf",
            "content_type": "application/pdf",
            "size": 13,
            "sha256": hashlib.sha256(b"%PDF-1.4 fake").hexdigest(),
        }
    ]
