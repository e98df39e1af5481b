"""Console pages against a real gateway: tenant isolation, operators, read-only keys, escaping,
the dashboard's counts against the API's, the document page and its actions."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest

from gateway.web import DB
from tests.console.console_support import api_count, invalid, numbered


def cells(html: str) -> dict[tuple[str, str, str, str], int]:
    """(direction, channel, window, bucket) -> count from the dashboard's table."""
    tree = lxml.html.fromstring(html)
    out = {}
    for tr in tree.xpath('//table[@id="counts"]/tbody/tr[@data-direction]'):
        for td in tr.xpath("td[@data-bucket]"):
            key = (
                tr.get("data-direction"),
                tr.get("data-channel"),
                td.get("data-window"),
                td.get("data-bucket"),
            )
            out[key] = int(td.text_content())
    return out


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_dashboard_counts_equal_the_api(
    database: str, gw_factory: Any, console_for: Any, request: Any
) -> None:
    url = request.getfixturevalue("pg_database") if database == "postgresql" else ""
    gw = await gw_factory(settings={"database_url": url} if url else None)
    key = await gw.key("acme")
    base = gw.base_invoice
    for raw in (
        base,
        base,
        numbered(base, "N-2"),
        invalid(numbered(base, "N-3")),
        numbered(base, "N-4"),
    ):
        await gw.receive(key, raw)
    other = await gw.key("globex")
    await gw.receive(other, numbered(base, "G-1"))
    c = console_for(gw)
    await c.sign_in(key)
    status, html, _ = await c.get("/")
    assert status == 200
    got = cells(html)
    for window in ("today", "7 days", "30 days"):
        k = ("inbound", "api", window)
        for bucket, api_status in (
            ("waiting", "received"),
            ("duplicate", "duplicate"),
            ("invalid", "invalid"),
        ):
            expected = await api_count(
                gw, key, direction="inbound", channel="api", status=api_status
            )
            assert got[(*k, bucket)] == expected, (window, bucket)
        everything = await api_count(gw, key, direction="inbound", channel="api")
        assert (
            sum(
                got[(*k, b)]
                for b in ("processed", "waiting", "duplicate", "invalid", "failed", "unroutable")
            )
            == everything
        )
    assert got[("inbound", "api", "30 days", "duplicate")] == 1
    assert got[("inbound", "api", "30 days", "invalid")] == 1
    assert got[("inbound", "api", "30 days", "waiting")] == 3  # globex's document is not counted
    assert "<svg" in html and 'class="inbound"' in html


async def test_tenant_admin_sees_only_its_tenant_also_by_url(gw: Any, console_for: Any) -> None:
    acme, globex = await gw.key("acme"), await gw.key("globex")
    mine = await gw.receive(acme, numbered(gw.base_invoice, "ACME-1"))
    theirs = await gw.receive(globex, numbered(gw.base_invoice, "GLOBEX-1"))
    c = console_for(gw)
    await c.sign_in(acme)
    status, html, _ = await c.get("/documents")
    assert status == 200 and "ACME-1" in html and "GLOBEX-1" not in html
    assert (await c.get(f"/documents/{mine['id']}"))[0] == 200
    for path in (
        f"/documents/{theirs['id']}",
        f"/documents/{theirs['id']}/raw",
        f"/documents/{theirs['id']}/attachments/0",
    ):
        status, body, _ = await c.get(path)
        assert status == 404 and "GLOBEX-1" not in body, path
    status, body = await c.act(f"/documents/{theirs['id']}/status", {"status": "approved"})
    assert status == 404
    status, body = await c.act("/tenant", {"tenant": "globex"})
    assert status == 403
    status, html, _ = await c.get("/documents?number=GLOBEX-1")
    assert "GLOBEX-1" not in html.split('id="documents"')[1]
    assert (await gw.doc(globex, theirs["id"]))["status"] == "received"


async def test_operator_sees_every_tenant_and_switches(gw: Any, console_for: Any) -> None:
    acme, globex = await gw.key("acme"), await gw.key("globex")
    await gw.receive(acme, numbered(gw.base_invoice, "ACME-1"))
    theirs = await gw.receive(globex, numbered(gw.base_invoice, "GLOBEX-1"))
    async with gw.db.write() as s:
        from gateway.store import repo

        _, operator = await repo.create_api_key(s, "provider", [], operator=True)
    c = console_for(gw)
    assert (await c.sign_in(operator)).status == 303
    html = (await c.get("/documents"))[1]
    assert "ACME-1" in html and "GLOBEX-1" in html  # an operator starts on every tenant
    status, _ = await c.act("/tenant", {"tenant": "globex", "next": "/console/documents"})
    assert status == 303
    html = (await c.get("/documents"))[1]
    assert "GLOBEX-1" in html and "ACME-1" not in html
    assert (await c.get(f"/documents/{theirs['id']}"))[0] == 200
    status, _body = await c.act("/tenant", {"tenant": "nobody"})
    assert status == 404


async def test_read_keys_look_but_cannot_act(gw: Any, console_for: Any) -> None:
    admin = await gw.key("acme")
    await gw.receive(admin, gw.base_invoice)
    dup = await gw.receive(admin, gw.base_invoice)
    reader = await gw.key("acme", "read")
    c = console_for(gw)
    assert (await c.sign_in(reader)).status == 303
    status, html, _ = await c.get(f"/documents/{dup['id']}")
    assert status == 200 and 'id="actions"' not in html and "read-only" in html
    status, _body = await c.act(f"/documents/{dup['id']}/mark-original", {"reason": "x"})
    assert status == 403
    assert (await gw.doc(admin, dup["id"]))["status"] == "duplicate"


async def test_everything_shown_is_escaped(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme")
    evil = numbered(gw.base_invoice, "&lt;script&gt;alert(1)&lt;/script&gt;")
    doc = await gw.receive(key, evil)
    c = console_for(gw)
    await c.sign_in(key)
    for path in ("/documents", f"/documents/{doc['id']}"):
        html = (await c.get(path))[1]
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_document_page_shows_report_history_and_marks_original(
    gw: Any, console_for: Any
) -> None:
    key = await gw.key("acme")
    first = await gw.receive(key, gw.base_invoice)
    dup = await gw.receive(key, gw.base_invoice)
    bad = await gw.receive(key, invalid(numbered(gw.base_invoice, "BAD-1")))
    c = console_for(gw)
    await c.sign_in(key)
    status, html, _ = await c.get(f"/documents/{bad['id']}")
    tree = lxml.html.fromstring(html)
    assert status == 200
    summary = tree.xpath('//section[@id="report"]//p[@class="summary"]')[0].text_content()
    assert "error" in summary and not summary.startswith("0 fatal 0 error")
    rules = [r.text_content() for r in tree.xpath('//details[@class="rule"]/summary/b')]
    assert "BR-CL-04" in rules
    assert (
        tree.xpath('//details[@class="rule"]//span[@class="line"]')[0]
        .text_content()
        .startswith("line ")
    )
    status, html, _ = await c.get(f"/documents/{dup['id']}")
    assert 'id="mark-original"' in html and first["id"] in html  # the original, side by side
    status, _ = await c.act(
        f"/documents/{dup['id']}/mark-original",
        {"reason": "a second delivery of goods"},
        page=f"/documents/{dup['id']}",
    )
    assert status == 303
    html = (await c.get(f"/documents/{dup['id']}"))[1]
    tree = lxml.html.fromstring(html)
    assert tree.xpath('//*[@id="status"]')[0].text_content() == "received"
    history = tree.xpath('//ol[@id="history"]/li')[-1].text_content()
    assert "duplicate → received" in history and "a second delivery of goods" in history
    api = await gw.doc(key, dup["id"])
    assert api["status"] == "received" and api["history"][-1]["key_id"]
    raw_status, raw, resp = await c.get(f"/documents/{first['id']}/raw")
    assert raw_status == 200 and raw.encode() == gw.base_invoice
    assert resp.headers["Content-Disposition"].startswith("attachment;")


async def test_change_status_goes_through_the_lifecycle(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme")
    doc = await gw.receive(key, gw.base_invoice)
    c = console_for(gw)
    await c.sign_in(key)
    status, _ = await c.act(
        f"/documents/{doc['id']}/status", {"status": "approved", "reason": "ok"}
    )
    assert status == 303
    body = await gw.doc(key, doc["id"])
    assert body["status"] == "approved" and body["history"][-1]["reason"] == "ok"
    status, _html = await c.act(f"/documents/{doc['id']}/status", {"status": "received"})
    assert status == 409  # the model refuses, shown as a page
    assert (await gw.doc(key, doc["id"]))["status"] == "approved"


async def test_console_is_not_part_of_the_api_description(gw: Any) -> None:
    async with gw.http.get(gw.url + "/v1/openapi.json") as resp:
        spec = await resp.json()
    assert spec["paths"] and not [p for p in spec["paths"] if p.startswith("/console")]
    assert DB in gw.app


async def test_duplicates_page_pairs_each_with_its_original(gw: Any, console_for: Any) -> None:
    key = await gw.key("acme")
    first = await gw.receive(key, gw.base_invoice)
    # Same business key, other bytes (a comment): a duplicate by key fields, not by bytes.
    again = await gw.receive(
        key, gw.base_invoice.replace(b"<cbc:ID>", b"<!-- resent --><cbc:ID>", 1)
    )
    assert again["status"] == "duplicate"
    c = console_for(gw)
    await c.sign_in(key)
    status, html, _ = await c.get("/duplicates")
    tree = lxml.html.fromstring(html)
    card = tree.xpath(f'//section[@id="dup-{again["id"]}"]')[0]
    assert "same business key" in card.text_content() and first["id"] in html
    rows = {r.xpath("th")[0].text_content(): r.get("class") for r in card.xpath(".//tbody/tr")}
    assert (
        rows["number"] == "same" and rows["seller"] == "same" and rows["bytes (sha256)"] != "same"
    )
    status, _ = await c.act(
        f"/documents/{again['id']}/mark-original",
        {"reason": "a real second invoice", "next": "/console/duplicates"},
        page="/duplicates",
    )
    assert status == 303
    html = (await c.get("/duplicates"))[1]
    assert f"dup-{again['id']}" not in html
    assert (await gw.doc(key, again["id"]))["status"] == "received"


async def test_operator_routes_a_stranded_document(
    gw: Any, console_for: Any, corpus_dir: Any
) -> None:
    from gateway.inbound import Submission
    from gateway.store import repo
    from gateway.web import INTAKE

    raw = (
        corpus_dir / "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"
    ).read_bytes()
    stranded = await gw.app[INTAKE].submit(Submission(raw, "email", None))
    assert stranded.status == "unroutable"
    admin = await gw.key("acme")
    tenant_admin = console_for(gw)
    await tenant_admin.sign_in(admin)
    assert (await tenant_admin.get(f"/documents/{stranded.document_id}"))[0] == 404
    status, _ = await tenant_admin.act(
        f"/documents/{stranded.document_id}/route", {"tenant": "acme"}
    )
    assert status == 403
    async with gw.db.write() as s:
        _, operator = await repo.create_api_key(s, "provider", [], operator=True)
    c = console_for(gw)
    await c.sign_in(operator)
    html = (await c.get(f"/documents/{stranded.document_id}"))[1]
    assert 'id="route"' in html
    status, _ = await c.act(
        f"/documents/{stranded.document_id}/route", {"tenant": "acme", "reason": "buyer is acme"}
    )
    assert status == 303
    body = await gw.doc(admin, stranded.document_id)
    assert body["tenant"] == "acme" and body["status"] == "received"
    assert body["history"][-1]["reason"].endswith("buyer is acme")


async def test_failed_send_is_requeued_from_the_outbound_page(
    gw_factory: Any, console_for: Any
) -> None:
    gw = await gw_factory(
        settings={
            "routes": [{"participant": "*", "url": "http://127.0.0.1:9/nowhere"}],
            "outbound": {"max_attempts": 1, "retry_initial": 0.05, "retry_max": 0.05},
        }
    )
    key = await gw.key("acme")
    status, sent = await gw.call(
        "POST", key, "/v1/outbound", xml=numbered(gw.base_invoice, "OUT-9")
    )
    assert status == 202, sent
    await gw.wait_status(key, sent["id"], "failed")
    c = console_for(gw)
    await c.sign_in(key)
    html = (await c.get("/outbound?status=failed"))[1]
    tree = lxml.html.fromstring(html)
    row = tree.xpath('//table[@id="outbound"]/tbody/tr')[0].text_content()
    assert "failed" in row and "OUT-9" not in row  # the row shows the queue, the error
    assert tree.xpath('//table[@id="outbound"]//form[contains(@action, "/requeue")]')
    dash = cells((await c.get("/"))[1])
    assert dash[("outbound", "api", "today", "failed")] == 1
    status, _ = await c.act(
        f"/documents/{sent['id']}/requeue", {"next": "/console/outbound"}, page="/outbound"
    )
    assert status == 303
    body = await gw.doc(key, sent["id"])
    # Requeued: failed -> queued (the worker, woken by the requeue, may have tried it again
    # already, so this move need not be the last).
    moves = [(h["from"], h["to"]) for h in body["history"]]
    assert ("failed", "queued") in moves, moves


async def test_paging_attachments_and_the_bare_console_url(gw: Any, console_for: Any) -> None:
    import aiohttp

    key = await gw.key("acme")
    for i in range(3):
        await gw.receive(key, numbered(gw.base_invoice, f"P-{i}"))
    form = aiohttp.FormData()
    form.add_field(
        "document",
        numbered(gw.base_invoice, "WITH-PDF"),
        content_type="application/xml",
        filename="inv.xml",
    )
    form.add_field(
        "file", b"%PDF-1.4 tiny", content_type="application/pdf", filename="Rechnung-Kopie.pdf"
    )
    async with gw.http.post(
        gw.url + "/v1/documents", data=form, headers={"Authorization": f"Bearer {key}"}
    ) as resp:
        assert resp.status == 201, await resp.text()
        with_pdf = await resp.json()
    c = console_for(gw)
    await c.sign_in(key)
    async with c.http.get(gw.url + "/console", allow_redirects=False) as bare:
        assert bare.status == 303 and bare.headers["Location"] == "/console/"
    html = (await c.get("/documents?limit=2"))[1]
    tree = lxml.html.fromstring(html)
    assert len(tree.xpath('//table[@id="documents"]/tbody/tr')) == 2
    nxt = tree.xpath('//a[@id="next-page"]/@href')[0]
    html = (await c.get("/documents" + nxt))[1]
    numbers = lxml.html.fromstring(html).xpath('//table[@id="documents"]/tbody/tr/td[6]')
    assert [n.text_content() for n in numbers] == ["P-2", "WITH-PDF"]
    html = (await c.get(f"/documents/{with_pdf['id']}"))[1]
    assert "Rechnung-Kopie.pdf" in html
    status, body, resp = await c.get(f"/documents/{with_pdf['id']}/attachments/0")
    assert status == 200 and resp.content_type == "application/pdf" and body.startswith("%PDF")
    assert 'filename="Rechnung-Kopie.pdf"' in resp.headers["Content-Disposition"]


async def test_invoice_responses_held_applied_and_counted(gw: Any, console_for: Any) -> None:
    from tests.live_gateway import BUYER, SELLER, invoice_response, sales_invoice

    key = await gw.key("acme")
    await gw.participant("acme", SELLER)
    raw = sales_invoice(gw.base_invoice, number="S-100", seller=SELLER, buyer=BUYER)
    inv = await gw.send_invoice(key, raw)
    held = await gw.receive(key, invoice_response("UQ", "u-1", "S-100"))  # REST proves nothing
    await gw.receive(key, invoice_response("AP", "u-2", "NO-SUCH-INVOICE"))
    c = console_for(gw)
    await c.sign_in(key)
    html = (await c.get("/"))[1]
    tree = lxml.html.fromstring(html)
    shown = int(
        tree.xpath('//table[@id="responses"]//td[@data-window="today"][@data-state="held"]')[
            0
        ].text_content()
    )
    status, api = await gw.call("GET", key, "/v1/admin/responses?state=held")
    assert status == 200 and shown == len(api["items"]) == 2
    html = (await c.get("/responses?state=held"))[1]
    assert "S-100" in html and "NO-SUCH-INVOICE" in html
    resp_id = next(r["id"] for r in api["items"] if r["document_id"] == held["id"])
    status, _ = await c.act(
        f"/responses/{resp_id}/apply", {"reason": "buyer confirmed"}, page="/responses"
    )
    assert status == 303
    body = await gw.doc(key, inv)
    assert body["status"] == "under_query"
    html = (await c.get(f"/documents/{inv}"))[1]
    assert "Invoice Responses" in html and "UQ" in html
    assert lxml.html.fromstring(html).xpath('//*[@id="status"]')[0].text_content() == "under_query"


async def test_system_and_api_pages(gw: Any, console_for: Any, installed_data_dir: Any) -> None:
    from gateway.web import SETTINGS

    (gw.app[SETTINGS].artefacts_dir).symlink_to(installed_data_dir / "artefacts")
    c = console_for(gw)
    await c.sign_in(await gw.key("acme", "read"))
    html = (await c.get("/system"))[1]
    tree = lxml.html.fromstring(html)
    bundles = [
        r.xpath("td")[0].text_content() for r in tree.xpath('//table[@id="bundles"]/tbody/tr')
    ]
    assert {"ubl-2.1", "en16931-1.3.16", "xrechnung-3.0.2"} <= set(bundles)
    assert tree.xpath('//dd[@id="db"]')[0].text_content().startswith("ok (sqlite")
    async with gw.http.get(gw.url + "/v1/openapi.json") as resp:
        spec = await resp.json()
    html = (await c.get("/api"))[1]
    tree = lxml.html.fromstring(html)
    shown = {
        (
            op.xpath(".//span[@class='method']")[0].text_content(),
            op.xpath(".//code")[0].text_content(),
        )
        for op in tree.xpath('//div[@class="op"]')
    }
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert shown == described and ("POST", "/v1/documents") in shown


async def test_readable_invoice_on_the_document_page(
    gw: Any, console_for: Any, installed_data_dir: Any
) -> None:
    from gateway.web import SETTINGS

    gw.app[SETTINGS].artefacts_dir.symlink_to(installed_data_dir / "artefacts")
    key, other = await gw.key("acme"), await gw.key("globex")
    doc = await gw.receive(key, gw.base_invoice)
    theirs = await gw.receive(other, numbered(gw.base_invoice, "G-9"))
    c = console_for(gw)
    await c.sign_in(key)
    html = (await c.get(f"/documents/{doc['id']}"))[1]
    frame = lxml.html.fromstring(html).xpath('//section[@id="readable"]//iframe')[0]
    assert frame.get("sandbox") == "allow-scripts allow-downloads"
    status, body, resp = await c.get(frame.get("src").removeprefix("/console"))
    assert status == 200 and resp.content_type == "text/html", body[:300]
    csp = resp.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox allow-scripts") and "frame-ancestors 'self'" in csp
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN" and "Snippet1" in body
    async with c.http.get(c.url + f"/documents/{doc['id']}/rendering?format=pdf&lang=de") as pdf:
        assert pdf.status == 200 and pdf.content_type == "application/pdf"
        assert (await pdf.read()).startswith(b"%PDF")
        assert pdf.headers["Content-Disposition"].startswith("attachment;")
    status, _, _ = await c.get(f"/documents/{theirs['id']}/rendering?format=html")
    assert status == 404
    status, _, _ = await c.get(f"/documents/{doc['id']}/rendering?format=docx")
    assert status == 400
