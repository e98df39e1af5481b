"""The ``/v1`` document API: submit, list, read and change documents; the pull inbox.

Its HTTP helpers (auth, problems, bodies, parameters) come from :mod:`gateway.web`. The view
functions (what ``GET /v1/documents...`` answers with) are exported for the console, which
renders exactly what the API returns; :func:`take_in` is how a REST route hands a tenant's
document to the intake (also the AFNOR Flow API's submit).
"""

from gateway.api.documents import take_in
from gateway.api.routes import setup_routes
from gateway.api.status import set_status
from gateway.api.views import (
    DOCUMENT_FILTERS,
    attachment_file,
    document_detail,
    document_page,
    download_headers,
    known_statuses,
)

__all__ = [
    "DOCUMENT_FILTERS",
    "attachment_file",
    "document_detail",
    "document_page",
    "download_headers",
    "known_statuses",
    "set_status",
    "setup_routes",
    "take_in",
]
