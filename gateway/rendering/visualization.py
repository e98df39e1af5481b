"""UBL/CII -> KoSIT intermediate XML (``xr:invoice``) -> HTML, with the pinned stylesheets.

Why KoSIT's visualization: it is the rendering German public buyers know (the same labels,
in German and English), it covers every EN 16931 business term through its semantic model,
and it runs unchanged in Saxon-HE, which the gateway already carries for Schematron. Saxon is
only touched on the process's one Saxon thread (``gateway.validation.saxon_thread``); the
document is parsed once with the gateway's safe parser (no DTDs, entities or network) and
Saxon only ever sees that parse re-serialised.

Measured on the 2-core shared VM: compiling the four stylesheets ~4 s once per process, then
~0.1-0.5 ms per KB of invoice (a 15 KB XRechnung ~0.3 s, HTML of ~240 KB).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from gateway.documents import ParseLimits, XmlRefused, parse_xml
from gateway.validation import SaxonRuntime, saxon_thread

UBL_INVOICE = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
UBL_CREDIT_NOTE = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"
CII = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice"

#: Root element -> the stylesheet that maps it onto the XRechnung semantic model.
SOURCE_STYLESHEETS = {
    UBL_INVOICE: "ubl-invoice-xr.xsl",
    UBL_CREDIT_NOTE: "ubl-creditnote-xr.xsl",
    CII: "cii-xr.xsl",
}
HTML_STYLESHEET = "xrechnung-html.xsl"
BUNDLE = "xrechnung-visualization"
FORMATS = ("html", "pdf")
LANGUAGES = ("de", "en")


class NotRenderable(Exception):
    """Refused: 415 for a document that is not an invoice or credit note, 422 for XML that
    cannot be read or rendered, 503 when the stylesheets are not installed."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.http_status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Rendering:
    body: bytes
    content_type: str
    filename: str


class Renderer:
    """Renders invoices with the visualization installed in ``artefacts`` (the data dir's)."""

    def __init__(self, artefacts: Path, limits: ParseLimits | None = None) -> None:
        self.folder = Path(artefacts) / BUNDLE / "xsl"
        self.limits = limits or ParseLimits()

    # --- async face (event loop) ------------------------------------------------------------

    async def html(self, raw: bytes, lang: str = "de") -> str:
        text, sheet = self.prepare(raw, lang)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(saxon_thread(), self.transform, text, sheet, lang)

    async def pdf(self, raw: bytes, lang: str = "de") -> bytes:
        from gateway.rendering.pdf import html_to_pdf

        page = await self.html(raw, lang)
        return await asyncio.to_thread(html_to_pdf, page)

    async def render(self, raw: bytes, fmt: str = "html", lang: str = "de") -> Rendering:
        """``fmt`` ``html`` or ``pdf``; the file name carries the invoice number when known."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        stem = self.file_stem(raw)
        if fmt == "pdf":
            return Rendering(await self.pdf(raw, lang), "application/pdf", f"{stem}.pdf")
        page = await self.html(raw, lang)
        return Rendering(page.encode("utf-8"), "text/html", f"{stem}.html")

    # --- sync parts ---------------------------------------------------------------------------

    def prepare(self, raw: bytes, lang: str) -> tuple[str, str]:
        """The safely parsed document as text and the stylesheet for its root (or a refusal)."""
        if lang not in LANGUAGES:
            raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}")
        if not (self.folder / HTML_STYLESHEET).is_file():
            raise NotRenderable(
                503,
                "rendering-unavailable",
                f"the {BUNDLE} stylesheets are not installed (run `gateway artefacts install`)",
            )
        try:
            tree = parse_xml(raw, self.limits)
        except XmlRefused as exc:
            raise NotRenderable(422, exc.code, exc.message) from exc
        root = tree.getroot()
        sheet = SOURCE_STYLESHEETS.get(root.tag)
        if sheet is None:
            raise NotRenderable(
                415,
                "unsupported-document",
                f"only UBL Invoice, UBL CreditNote and CII invoices can be rendered, "
                f"not {etree.QName(root).localname}",
            )
        return etree.tostring(tree, encoding="unicode"), sheet

    def transform(self, text: str, sheet: str, lang: str) -> str:
        """Both transforms; call only on the Saxon thread."""
        runtime = SaxonRuntime.shared()
        try:
            model = runtime.stylesheet(self.folder / sheet).run(runtime.parse(text))
            page = runtime.stylesheet(self.folder / HTML_STYLESHEET).run(
                runtime.parse(model), {"lang": runtime.proc.make_string_value(lang)}
            )
        except RuntimeError as exc:
            raise NotRenderable(422, "rendering-failed", str(exc)) from exc
        return page

    def file_stem(self, raw: bytes) -> str:
        from gateway.documents import identify

        try:
            number = identify(parse_xml(raw, self.limits)).number or "invoice"
        except XmlRefused:
            number = "invoice"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in number).strip("._")
        return safe[:80] or "invoice"
