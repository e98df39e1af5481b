"""Extension points of the document API, so other concerns react without the API knowing them.

- ``on_status_changed(app, fn)``: ``fn(StatusChanged)`` runs after a client's status change is
  committed (e.g. Invoice Responses send a T111 to the invoice's sender). Listeners must not
  raise: the change is already durable and the client gets its answer regardless.
- ``add_document_view(app, fn)``: ``fn(session, doc) -> dict`` adds keys to
  ``GET /v1/documents/{id}`` (e.g. the Invoice Responses of an invoice).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class StatusChanged:
    document_id: str
    direction: str
    previous: str
    status: str
    reason: str | None
    actor: str | None


StatusListener = Callable[[StatusChanged], Awaitable[Any]]
DocumentView = Callable[[Any, Any], Awaitable[dict[str, Any]]]

STATUS_LISTENERS = web.AppKey("status_listeners", list)
DOCUMENT_VIEWS = web.AppKey("document_views", list)


def on_status_changed(app: web.Application, listener: StatusListener) -> None:
    app[STATUS_LISTENERS] = [*app.get(STATUS_LISTENERS, []), listener]


def add_document_view(app: web.Application, view: DocumentView) -> None:
    app[DOCUMENT_VIEWS] = [*app.get(DOCUMENT_VIEWS, []), view]


async def status_changed(app: web.Application, change: StatusChanged) -> None:
    for listener in app.get(STATUS_LISTENERS, []):
        await listener(change)


async def document_views(app: web.Application, session: Any, doc: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for view in app.get(DOCUMENT_VIEWS, []):
        extra.update(await view(session, doc))
    return extra
