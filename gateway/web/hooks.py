"""Extension points of the document API, so other concerns react without the API knowing them.

- ``on_status_changed(app, fn)``: ``fn(StatusChanged)`` runs after a client's status change is
  committed (e.g. Invoice Responses send a T111 to the invoice's sender). Listeners must not
  raise: the change is already durable and the client gets its answer regardless.
- ``add_document_view(app, fn)``: ``fn(session, doc) -> dict`` adds keys to
  ``GET /v1/documents/{id}`` (e.g. the Invoice Responses of an invoice).
- ``add_status_guard(app, guard, on_refused)``: ``guard(session, doc, target) -> reason |
  None`` runs before a client's status change, inside its transaction (it must not write); a
  reason refuses the move (409) before anything changed (e.g. a move that would send an
  Invoice Response the tenant may not send). ``on_refused(StatusChanged, reason)`` then runs
  after that transaction, to record who tried.
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
    #: The API key that asked (the actor may be a person's name from the request body).
    key_id: str | None = None


StatusListener = Callable[[StatusChanged], Awaitable[Any]]
DocumentView = Callable[[Any, Any], Awaitable[dict[str, Any]]]
StatusGuard = Callable[[Any, Any, str], Awaitable[str | None]]
RefusalListener = Callable[[StatusChanged, str], Awaitable[Any]]

STATUS_LISTENERS = web.AppKey("status_listeners", list)
DOCUMENT_VIEWS = web.AppKey("document_views", list)
STATUS_GUARDS = web.AppKey("status_guards", list)


def on_status_changed(app: web.Application, listener: StatusListener) -> None:
    app[STATUS_LISTENERS] = [*app.get(STATUS_LISTENERS, []), listener]


def add_document_view(app: web.Application, view: DocumentView) -> None:
    app[DOCUMENT_VIEWS] = [*app.get(DOCUMENT_VIEWS, []), view]


def add_status_guard(
    app: web.Application, guard: StatusGuard, on_refused: RefusalListener | None = None
) -> None:
    app[STATUS_GUARDS] = [*app.get(STATUS_GUARDS, []), (guard, on_refused)]


async def status_refusal(app: web.Application, session: Any, doc: Any, target: str) -> str | None:
    for guard, _ in app.get(STATUS_GUARDS, []):
        reason = await guard(session, doc, target)
        if reason:
            return reason
    return None


async def status_refused(app: web.Application, change: StatusChanged, reason: str) -> None:
    for _, on_refused in app.get(STATUS_GUARDS, []):
        if on_refused is not None:
            await on_refused(change, reason)


async def status_changed(app: web.Application, change: StatusChanged) -> None:
    for listener in app.get(STATUS_LISTENERS, []):
        await listener(change)


async def document_views(app: web.Application, session: Any, doc: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for view in app.get(DOCUMENT_VIEWS, []):
        extra.update(await view(session, doc))
    return extra
