"""The console in a real Chromium (Debian's, driven by Playwright): sign in, the dashboard's
counts against the API's, a duplicate marked as original from the "⋯" menu, tenant isolation
by URL, a form without its CSRF token refused, and a screenshot of every page.

Screenshots go to ``build/screenshots/console/`` (the path is printed) so a person can look
at them; the README's pictures are copies of two of them.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store import repo
from tests.console.console_support import api_count, invalid, numbered

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "console"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XRECHNUNG = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (bash .ci/run installs it)")
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=_chromium(), headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def shot(page: Any, name: str, *, full: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    target = SHOTS / f"{name}.png"
    await page.screenshot(path=str(target), full_page=full)
    assert target.stat().st_size > 5_000, name  # a page with content, not a blank
    return target


async def test_console_in_chromium(gw: Any, browser: Any, corpus_dir: Path) -> None:
    key = await gw.key("acme")
    base = gw.base_invoice
    original = await gw.receive(key, base)
    dup = await gw.receive(key, base)
    second_dup = await gw.receive(key, base)
    for raw in (numbered(base, "INV-2026-002"), invalid(numbered(base, "INV-2026-003"))):
        await gw.receive(key, raw)
    await gw.receive(key, (corpus_dir / XRECHNUNG).read_bytes())
    await gw.send_invoice(key, numbered(base, "OUT-2026-001"))  # delivered to the stub AP
    other = await gw.key("globex")
    foreign = await gw.receive(other, numbered(base, "GLOBEX-1"))
    print(f"\nconsole screenshots: {SHOTS}")

    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    # Signed out: any page leads to the sign-in form, and back after it.
    await page.goto(gw.url + "/console/documents")
    assert "/console/sign-in" in page.url
    await shot(page, "01-sign-in", full=False)
    await page.fill("#key", key)
    await page.click("#sign-in")
    assert page.url.endswith("/console/documents")
    cookies = await context.cookies()
    assert [c["name"] for c in cookies] == ["gw_console"] and cookies[0]["httpOnly"]
    assert key not in cookies[0]["value"] and cookies[0]["sameSite"] == "Strict"

    # Dashboard: each count equals what the API lists.
    await page.click("nav >> text=Dashboard")
    for bucket, status in (
        ("waiting", "received"),
        ("duplicate", "duplicate"),
        ("invalid", "invalid"),
    ):
        cell = page.locator(
            f'tr[data-direction="inbound"][data-channel="api"] td[data-window="today"][data-bucket="{bucket}"]'
        )
        expected = await api_count(gw, key, direction="inbound", channel="api", status=status)
        assert int(await cell.inner_text()) == expected, bucket
    assert (
        int(
            await page.locator(
                'tr[data-direction="inbound"] td[data-window="30 days"][data-bucket="duplicate"]'
            ).inner_text()
        )
        == 2
    )
    sent = page.locator(
        'tr[data-direction="outbound"][data-channel="api"] td[data-window="today"][data-bucket="processed"]'
    )
    assert int(await sent.inner_text()) == 1  # delivered: processed, green
    assert await page.locator("svg.chart rect.inbound").count() >= 1
    await shot(page, "02-dashboard")

    # Documents, filtered to duplicates; open one.
    await page.click("nav >> text=Documents")
    await page.select_option('select[name="status"]', "duplicate")
    await page.click("#filters button[type=submit]")
    assert "status=duplicate" in page.url
    assert await page.locator("#documents tbody tr").count() == 2
    await shot(page, "03-documents")
    await page.click(f'a[href="/console/documents/{dup["id"]}"] >> nth=0')
    assert await page.inner_text("#status") == "duplicate"
    assert original["id"] in await page.inner_text("table.pair")  # the original side by side

    # Mark as original from the ⋯ menu: the new status and the history row are shown.
    await page.click("#actions > summary")
    await page.fill('#mark-original input[name="reason"]', "same number, different delivery")
    await shot(page, "04-document-menu", full=False)
    await page.click("#mark-original button")
    assert page.url.endswith(f"/console/documents/{dup['id']}")
    assert await page.inner_text("#status") == "received"
    last = await page.locator("#history li").last.inner_text()
    assert "duplicate → received" in last and "same number, different delivery" in last
    assert "key:" in last
    await shot(page, "05-document")
    api = await gw.doc(key, dup["id"])
    assert api["status"] == "received"
    assert api["history"][-1]["reason"].endswith("same number, different delivery")

    # The invalid document's report: counts first, findings grouped by rule with lines.
    bad = (await gw.call("GET", key, "/v1/documents?status=invalid"))[1]["items"][0]
    await page.goto(gw.url + f"/console/documents/{bad['id']}")
    assert "BR-CL-04" in await page.inner_text("#report")
    await shot(page, "06-document-invalid")

    # A form whose CSRF token was taken out is refused, and nothing changes.
    await page.goto(gw.url + f"/console/documents/{second_dup['id']}")
    await page.click("#actions > summary")
    await page.fill('#mark-original input[name="reason"]', "forged")
    await page.evaluate("document.querySelector('#mark-original input[name=csrf]').remove()")
    await page.click("#mark-original button")
    assert "CSRF" in await page.inner_text("main")
    await shot(page, "07-csrf-refused", full=False)
    assert (await gw.doc(key, second_dup["id"]))["status"] == "duplicate"

    # Another tenant's document, by URL: not found, nothing of it shown.
    response = await page.goto(gw.url + f"/console/documents/{foreign['id']}")
    assert response.status == 404 and "GLOBEX-1" not in await page.content()
    response = await page.goto(gw.url + f"/console/documents/{foreign['id']}/raw")
    assert response.status == 404
    await page.goto(gw.url + "/console/documents")
    assert "GLOBEX-1" not in await page.inner_text("#documents")

    # Every page of the navigation renders; a screenshot of each.
    await page.goto(gw.url + "/console/")
    links = await page.eval_on_selector_all(
        "header nav a", "els => els.map(e => e.getAttribute('href'))"
    )
    for i, href in enumerate(links):
        response = await page.goto(gw.url + href)
        assert response.status == 200, href
        await shot(page, f"1{i}-{href.strip('/').replace('/', '-') or 'dashboard'}")

    # A phone: the dashboard and a document page stay readable (no sideways page).
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    mobile = await phone.new_page()
    await phone.add_cookies(cookies)
    await mobile.goto(gw.url + "/console/")
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 2, width
    await shot(mobile, "20-phone-dashboard")
    await mobile.goto(gw.url + f"/console/documents/{dup['id']}")
    assert await mobile.evaluate("document.documentElement.scrollWidth") <= 392
    await shot(mobile, "21-phone-document")

    # Sign out: the cookie is gone and the pages are closed again.
    await page.click("#sign-out")
    assert "/console/sign-in" in page.url
    await page.goto(gw.url + "/console/")
    assert "/console/sign-in" in page.url
    await phone.close()
    await context.close()
    async with gw.db.read() as s:
        assert await repo.get_document(s, foreign["id"], "globex")  # untouched
