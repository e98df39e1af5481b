"""Readable invoices: KoSIT's XRechnung visualization to HTML, printed to PDF.

Public surface:
- :class:`Renderer` - ``await html(raw, lang)`` / ``await pdf(raw, lang)`` for UBL Invoice,
  UBL CreditNote and CII documents; what the CLI, the REST route, the console's document page
  and the e-mail transport use.
- :class:`Rendering` - the result (bytes, content type, file name).
- :class:`NotRenderable` - a clear refusal (``http_status`` 415, 422 or 503, stable ``code``).
- :data:`FORMATS`, :data:`LANGUAGES`.
- :func:`setup` (the REST route, called by the app factory), :func:`document_rendering`
  (``await document_rendering(app, tenant, doc_id, fmt, lang)`` for the console), :data:`RENDERER`.
"""

from gateway.rendering.visualization import (
    FORMATS,
    LANGUAGES,
    NotRenderable,
    Renderer,
    Rendering,
)
from gateway.rendering.web import RENDERER, document_rendering, setup

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "RENDERER",
    "NotRenderable",
    "Renderer",
    "Rendering",
    "document_rendering",
    "setup",
]
