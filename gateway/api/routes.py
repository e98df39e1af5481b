"""Route table of the ``/v1`` API."""

from __future__ import annotations

from aiohttp import web

from gateway.admin import list_unrouted, mark_original, route
from gateway.api import documents
from gateway.api.inbox import get_inbox


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/v1/documents", documents.submit)
    app.router.add_get("/v1/documents", documents.list_documents)
    app.router.add_get("/v1/documents/{id}", documents.get_document)
    app.router.add_get("/v1/documents/{id}/content", documents.get_content)
    app.router.add_get(r"/v1/documents/{id}/attachments/{n:\d+}", documents.get_attachment)
    app.router.add_get(
        "/v1/documents/{id}/attachments/by-name/{name}", documents.get_attachment_by_name
    )
    app.router.add_post("/v1/documents/{id}/status", documents.change_status)
    app.router.add_post("/v1/admin/documents/{id}/mark-original", mark_original)
    app.router.add_post("/v1/admin/documents/{id}/route", route)
    app.router.add_get("/v1/admin/unrouted", list_unrouted)
    app.router.add_get("/v1/inbox", get_inbox)
