"""Document search (number, seller, buyer, issue dates), strict filters, attachment downloads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from tests.api_gateway import Gateway


async def test_search_by_number_seller_buyer_and_issue_dates(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme")
    ids = {}
    for n in ("S-1", "S-2"):
        status, body = await gateway.submit(key, gateway.renumber(ubl, n))
        assert status == 201
        ids[n] = body["id"]
    other = ubl.replace(
        b"<cbc:IssueDate>2016-04-04</cbc:IssueDate>",
        b"<cbc:IssueDate>2017-01-02</cbc:IssueDate>",
        1,
    )
    status, body = await gateway.submit(key, gateway.renumber(other, "S-3"))
    assert status == 201
    ids["S-3"] = body["id"]

    async def found(query: str) -> list[str]:
        status, page = await gateway.get(key, "/v1/documents?" + query)
        assert status == 200, page
        return [d["number"] for d in page["items"]]

    assert await found("number=S-2") == ["S-2"]
    assert await found("seller=EM:seller@email.de") == ["S-1", "S-2", "S-3"]
    assert await found("seller=EM:nobody@example.org") == []
    _, doc = await gateway.get(key, f"/v1/documents/{ids['S-1']}")
    assert await found(f"buyer={doc['buyer_id']}&number=S-1") == ["S-1"]
    assert await found("issued_from=2017-01-01") == ["S-3"]
    assert await found("issued_to=2016-12-31") == ["S-1", "S-2"]
    assert await found("issued_from=2016-04-04&issued_to=2016-04-04") == ["S-1", "S-2"]
    # timestamps carry a time zone
    assert doc["created_at"].endswith("Z") and all(h["at"].endswith("Z") for h in doc["history"])


async def test_unknown_filter_and_bad_values_are_400_naming_them(gateway: Gateway) -> None:
    key = await gateway.key("acme")
    for query, name, code in [
        ("status=bogus", "status", "invalid-parameter"),
        ("numbr=1", "numbr", "unknown-parameter"),
        ("issued_from=yesterday", "issued_from", "invalid-parameter"),
        ("direction=sideways", "direction", "invalid-parameter"),
        ("limit=100000", "limit", "invalid-parameter"),
        (f"cursor={2**63}", "cursor", "invalid-parameter"),
    ]:
        async with gateway.http.get(
            f"{gateway.url}/v1/documents?{query}", headers=gateway.headers(key)
        ) as resp:
            body = await resp.json(content_type=None)
            assert resp.status == 400, (query, body)
            assert resp.content_type == "application/problem+json"
            assert (body["code"], body["parameter"]) == (code, name), query
            assert name in body["detail"]


async def test_attachments_download_by_index_and_name(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme")
    other = await gateway.key("globex")
    pdf = b"%PDF-1.4\n% a small stand-in pdf\n%%EOF\n"
    form = aiohttp.FormData()
    form.add_field("document", ubl, filename="invoice.xml", content_type="application/xml")
    form.add_field("att", pdf, filename="invoice-2026.pdf", content_type="application/pdf")
    form.add_field(
        "hostile",
        b"<script>alert(1)</script>",
        filename="x.html",
        content_type="text/html; charset=utf-8",
    )
    async with gateway.http.post(
        gateway.url + "/v1/documents", data=form, headers=gateway.headers(key)
    ) as resp:
        assert resp.status == 201, await resp.text()
        doc_id = (await resp.json())["id"]
    _, doc = await gateway.get(key, f"/v1/documents/{doc_id}")
    assert [(a["index"], a["filename"]) for a in doc["attachments"]] == [
        (0, "invoice-2026.pdf"),
        (1, "x.html"),
    ]
    async with gateway.http.get(
        gateway.url + doc["attachments"][0]["url"], headers=gateway.headers(key)
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/pdf"
        assert await resp.read() == pdf
        disposition = resp.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''invoice-2026.pdf" in disposition
    async with gateway.http.get(
        f"{gateway.url}/v1/documents/{doc_id}/attachments/by-name/x.html",
        headers=gateway.headers(key),
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert resp.headers["Content-Disposition"].startswith("attachment;")  # never rendered
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for path, who in [
        (f"/v1/documents/{doc_id}/attachments/2", key),
        (f"/v1/documents/{doc_id}/attachments/by-name/nope.pdf", key),
        (f"/v1/documents/{doc_id}/attachments/0", other),  # another tenant's: 404, not 403
    ]:
        status, body = await gateway.get(who, path)
        assert (status, body["code"]) == (404, "not-found"), path


def test_download_names_are_safe_and_keep_unicode() -> None:
    from gateway.api.views import download_headers

    header = download_headers('Rechnung "März"\r\n.pdf')["Content-Disposition"]
    assert header == (
        'attachment; filename="Rechnung _M_rz___.pdf"; '
        "filename*=UTF-8''Rechnung%20%22M%C3%A4rz%22%0D%0A.pdf"
    )


async def test_one_json_log_line_per_stored_document(
    gateway: Gateway, ubl: bytes, caplog: Any
) -> None:
    import json
    import logging

    from gateway.observability import JsonFormatter

    key = await gateway.key("acme")
    with caplog.at_level(logging.INFO, logger="gateway.inbound.intake"):
        status, body = await gateway.submit(key, ubl)
    assert status == 201
    lines = [r for r in caplog.records if r.getMessage() == "document stored"]
    assert len(lines) == 1
    line = json.loads(JsonFormatter().format(lines[0]))
    assert line["document_id"] == body["id"] and line["tenant"] == "acme"
    assert line["status"] == "received" and line["channel"] == "api"
    assert key not in json.dumps(line)
