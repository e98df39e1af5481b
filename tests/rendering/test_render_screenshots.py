"""Two renderings as a person sees them: a real Chromium opens the HTML and takes a screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.rendering import Renderer

CASES = [
    "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml",
    "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_uncefact.xml",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (bash .ci/run installs it)")
    return path


async def test_two_renderings_screenshotted(
    renderer: Renderer, corpus_dir: Path, output_dir: Path
) -> None:
    from playwright.async_api import async_playwright

    executable = _chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 1600})
            for rel in CASES:
                raw = (corpus_dir / rel).read_bytes()
                await page.set_content(await renderer.html(raw, "de"))
                # The viewer's script works in the browser: the overview tab is shown, the
                # details tab is one click away.
                assert await page.is_visible("#uebersicht")
                assert not await page.is_visible("#details")
                await page.click("#menueDetails")
                assert await page.is_visible("#details")
                await page.click("#menueUebersicht")
                target = output_dir / (Path(rel).stem + ".png")
                await page.screenshot(path=str(target), full_page=True)
                assert target.stat().st_size > 20_000  # a page with content, not a blank
        finally:
            await browser.close()
