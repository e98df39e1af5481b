"""Embedded files of a PDF: where Factur-X / ZUGFeRD (PDF/A-3) carry their CII invoice.

Why pypdf: it is pure Python, maintained, and bounds every decompression (75 MB per stream by
default), so a hostile PDF costs CPU time in a worker thread but cannot exhaust memory. Only
the embedded-file name tree is read; page content is never rendered or parsed.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: File names the Factur-X, ZUGFeRD 1/2 and XRechnung-in-PDF conventions use for the invoice.
#: Compared case-insensitively (ZUGFeRD 1 wrote ``ZUGFeRD-invoice.xml``, 2.x lower case).
INVOICE_FILENAMES = frozenset({"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"})

#: A PDF with more embedded files than this is not an e-invoice container; stop looking.
MAX_EMBEDDED_FILES = 50


@dataclass(frozen=True)
class EmbeddedFile:
    name: str
    subtype: str | None
    data: bytes

    @property
    def known_invoice_name(self) -> bool:
        return self.name.lower() in INVOICE_FILENAMES


class PdfUnreadable(Exception):
    """The PDF could not be opened (corrupt, encrypted with a password, hostile)."""


def embedded_files(data: bytes, max_bytes: int) -> list[EmbeddedFile]:
    """Every embedded file of the PDF ``data`` up to ``max_bytes`` each, in document order.

    Raises :class:`PdfUnreadable` when the PDF cannot be read at all; a single broken
    embedded file is skipped (and logged) so the readable ones still count.
    """
    from pypdf import PdfReader  # heavy import, only needed when a PDF arrives

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfUnreadable("PDF is encrypted with a password")
        entries = reader.attachment_list
        out: list[EmbeddedFile] = []
        for count, entry in enumerate(entries):
            if count >= MAX_EMBEDDED_FILES:
                log.warning(
                    "pdf has more than %d embedded files; ignoring the rest", MAX_EMBEDDED_FILES
                )
                break
            try:
                content = entry.content
            except Exception as exc:  # untrusted input to a third-party parser
                log.warning("unreadable embedded file %r in pdf: %s", entry.name, exc)
                continue
            if len(content) > max_bytes:
                log.warning(
                    "embedded file %r is %d bytes; ignored (limit %d)",
                    entry.name,
                    len(content),
                    max_bytes,
                )
                continue
            subtype = entry.subtype
            out.append(EmbeddedFile(entry.name, str(subtype) if subtype else None, content))
        return out
    except PdfUnreadable:
        raise
    except Exception as exc:  # pypdf raises many types on malformed input; all mean "unreadable"
        raise PdfUnreadable(f"{type(exc).__name__}: {exc}") from exc


PDF_MAGIC = b"%PDF-"


def invoice_xml(data: bytes, max_bytes: int) -> EmbeddedFile | None:
    """The invoice a Factur-X / ZUGFeRD PDF carries: the embedded file with a known invoice
    name (``factur-x.xml``, ...), else the only XML file; None when there is none (or several
    unnamed ones). :class:`PdfUnreadable` when the PDF cannot be read."""
    files = embedded_files(data, max_bytes)
    named = [f for f in files if f.known_invoice_name]
    if named:
        return named[0]
    xml = [f for f in files if f.name.lower().endswith(".xml")]
    return xml[0] if len(xml) == 1 else None
