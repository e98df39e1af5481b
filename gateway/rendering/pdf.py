"""HTML -> PDF with WeasyPrint (see the README for why WeasyPrint).

The KoSIT page is a tabbed viewer (JavaScript shows one panel at a time); on paper every panel
is printed, one after another, without the tab bar. Nothing is fetched while printing: the page
is self-contained (styles inline), and a URL in an invoice must not make the gateway reach
out, so every fetch except ``data:`` URLs is refused.
"""

from __future__ import annotations

import logging
from typing import Any

# The viewer's CSS has screen-only rules WeasyPrint does not know (``overflow-y``, odd media
# queries): one warning each per page printed, about stylesheets we pin and cannot change.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)

PRINT_CSS = """
@page { size: A4; margin: 12mm; }
.menue, button, script, noscript, .noscript { display: none !important; }
[role=tabpanel], .divHide { display: block !important; }
[role=tabpanel] + [role=tabpanel] { break-before: page; }
"""


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        return default_url_fetcher(url, *args, **kwargs)
    raise ValueError(f"rendering fetches nothing from outside (refused {url[:80]})")


def html_to_pdf(page: str) -> bytes:
    from weasyprint import CSS, HTML

    document = HTML(string=page, url_fetcher=_no_fetch)
    return document.write_pdf(stylesheets=[CSS(string=PRINT_CSS)])
