"""The console's middleware: session required, CSRF on every POST, HTML errors, safe headers.

Pages other than sign-in and the static files need a live session (:mod:`.sessions`); a
browser without one is sent to the sign-in page with the page it wanted (a local path only).
Every POST must carry the session's CSRF token in the ``csrf`` form field (the sign-in form
its own double-submit token): without it the answer is a 403 page that says so, and nothing
happens. Errors are pages, not problem+json (that is the API's format).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from gateway import admin
from gateway.console import sessions
from gateway.console.keys import COOKIE, PREFIX, TENANTS, TOKEN, VIEWER
from gateway.console.render import page
from gateway.store import Tenant
from gateway.web import DB, SETTINGS, Problem

log = logging.getLogger(__name__)

#: Paths (below /console) that need no session.
OPEN = ("/console/sign-in", "/console/static/")
#: No inline script or style, nothing from elsewhere, never framed.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class Refused(Exception):
    """A console refusal shown as a page (status, title, explanation)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.http_status, self.title, self.detail = status, title, detail


@web.middleware
async def guard_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await _guarded(request, handler)
    except Refused as exc:
        response = error_page(request, exc.http_status, exc.title, exc.detail)
    except Problem as exc:  # from the shared view functions (bad filter, unknown document)
        response = error_page(request, exc.status, exc.title, exc.detail)
    except admin.Refused as exc:  # from the management functions
        response = error_page(request, exc.http_status, exc.code.replace("-", " "), exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers.update(HEADERS)
            raise
        response = error_page(request, exc.status, exc.reason, exc.text or exc.reason)
    except Exception:
        log.exception("console page failed", extra={"path": request.path})
        response = error_page(request, 500, "Server error", "The page failed; nothing changed.")
    if not request.path.startswith("/console/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    for name, value in HEADERS.items():  # a handler may frame-allow its own answer (rendering)
        response.headers.setdefault(name, value)
    return response


async def _guarded(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(OPEN):
        return await handler(request)
    token = request.cookies.get(COOKIE)
    found = None
    if token:
        settings = request.config_dict[SETTINGS].console
        async with request.config_dict[DB].read() as s:
            found = await sessions.lookup(s, token, idle=settings.idle_seconds)
            if found is not None and "operator" in found[1].scope_set:
                request[TENANTS] = list(await s.scalars(select(Tenant.name).order_by(Tenant.name)))
    if found is None or token is None:
        if request.method == "GET":
            return see_other(f"{PREFIX}/sign-in?next={quote(request.path_qs, safe='/')}")
        raise Refused(401, "Signed out", "Your session has ended; sign in again.")
    row, key = found
    viewer = sessions.viewer_of(row, key, token)
    if request.method == "POST":
        form = await request.post()
        if not sessions.same(str(form.get("csrf", "")), viewer.csrf):
            log.warning("console form without a valid CSRF token", extra={"path": request.path})
            raise Refused(
                403,
                "Form refused",
                "This form did not carry a valid CSRF token, so nothing was changed. Reload "
                "the page and submit the form again.",
            )
    request[VIEWER] = viewer
    request[TOKEN] = token
    if sessions.stale(row):
        async with request.config_dict[DB].write() as s:
            await sessions.touch(s, token)
    return await handler(request)


def see_other(location: str) -> web.Response:
    """303 to a local path (after a form, or to the sign-in page)."""
    return web.Response(status=303, headers={"Location": location})


def error_page(request: web.Request, status: int, title: str, detail: str) -> web.Response:
    return page(
        request, "error.html", {"status": status, "title": title, "detail": detail}, status=status
    )


def viewer(request: web.Request) -> sessions.Viewer:
    return request[VIEWER]


def acting(request: web.Request) -> sessions.Viewer:
    """The viewer if it may change things (admin or operator key), else a 403 page."""
    v = request[VIEWER]
    if not v.can_act:
        raise Refused(403, "Read-only", "This key may only look: sign in with an admin key.")
    return v
