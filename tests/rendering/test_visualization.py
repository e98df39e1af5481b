"""Renderings of real corpus documents with the pinned KoSIT visualization."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lxml import etree, html
from pypdf import PdfReader

from gateway.documents import identify, parse_xml
from gateway.rendering import NotRenderable, Renderer

XR = "xrechnung-testsuite"


def _suite(corpus: Path) -> list[Path]:
    return sorted((corpus / XR).rglob("*.xml"))


def _number(raw: bytes) -> str:
    number = identify(parse_xml(raw)).number
    assert number
    return number


@pytest.mark.slow
async def test_every_xrechnung_suite_invoice_renders(renderer: Renderer, corpus_dir: Path) -> None:
    files = _suite(corpus_dir)
    assert len(files) >= 80
    for path in files:
        raw = path.read_bytes()
        for lang, label in (("de", "Rechnungsnummer"), ("en", "Invoice number")):
            if lang == "en" and path.name[:2] not in {"01", "04"}:
                continue  # English labels on a sample of cases: the German pass covers all
            page = await renderer.html(raw, lang)
            tree = html.fromstring(page)
            text = " ".join(tree.itertext())
            assert _number(raw) in text, path.name
            assert label in text, (path.name, lang)
            assert tree.get("lang") == lang


@pytest.mark.parametrize(
    "rel",
    [
        "en16931-examples/ubl/ubl-tc434-creditnote1.xml",
        "peppol-bis-examples/base-creditnote-correction.xml",
        "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_uncefact.xml",
    ],
)
async def test_credit_notes_and_cii_render(renderer: Renderer, corpus_dir: Path, rel: str) -> None:
    raw = (corpus_dir / rel).read_bytes()
    page = await renderer.html(raw, "en")
    assert _number(raw) in " ".join(html.fromstring(page).itertext())


@pytest.mark.parametrize(
    "rel",
    [
        "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml",
        "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_uncefact.xml",
    ],
)
async def test_pdf_opens_and_holds_the_invoice_number(
    renderer: Renderer, corpus_dir: Path, output_dir: Path, rel: str
) -> None:
    raw = (corpus_dir / rel).read_bytes()
    rendering = await renderer.render(raw, "pdf", "de")
    assert rendering.content_type == "application/pdf"
    assert rendering.filename == f"{_number(raw)}.pdf"
    reader = PdfReader(io.BytesIO(rendering.body))
    assert len(reader.pages) >= 2  # every tab panel printed, not only the overview
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert _number(raw) in text
    assert "Rechnungsnummer" in text
    assert "JavaScript" not in text  # the viewer's no-script notice is not printed
    (output_dir / (Path(rel).stem + ".pdf")).write_bytes(rendering.body)


async def test_what_cannot_be_rendered_is_refused_clearly(
    renderer: Renderer, corpus_dir: Path
) -> None:
    response = (corpus_dir / "peppol-invoice-response/InvoiceResponse_Example.xml").read_bytes()
    cases = [
        (response, 415, "unsupported-document"),
        (b"<Invoice><unclosed></Invoice>", 422, "not-well-formed"),
        (b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>', 422, "forbidden-construct"),
    ]
    for raw, status, code in cases:
        with pytest.raises(NotRenderable) as err:
            await renderer.html(raw, "de")
        assert (err.value.http_status, err.value.code) == (status, code)
    with pytest.raises(ValueError):
        await renderer.html(response, "fr")


async def test_missing_stylesheets_answer_503(tmp_path: Path, corpus_dir: Path) -> None:
    raw = (corpus_dir / XR / "business-cases/standard/01.01a-INVOICE_ubl.xml").read_bytes()
    with pytest.raises(NotRenderable) as err:
        await Renderer(tmp_path).html(raw)
    assert err.value.http_status == 503


def test_rendered_html_is_one_self_contained_page(renderer: Renderer, corpus_dir: Path) -> None:
    """No external resources: the page works offline and under the route's CSP."""
    import asyncio

    raw = (corpus_dir / XR / "business-cases/standard/01.01a-INVOICE_ubl.xml").read_bytes()
    tree = html.fromstring(asyncio.run(renderer.html(raw)))
    for el in tree.iter(etree.Element):
        for attr in ("src", "href"):
            value = el.get(attr)
            assert not value or value.startswith(("#", "data:", "javascript:")), value
