"""Sign-in with an API key, sign-out, and the operator's tenant switch.

The key is read from the form once, checked like a Bearer key (constant-time, revoked keys
refused) and forgotten: the browser gets a session token, never the key. Failed sign-ins count
against the same per-address limiter as failed API authentications. After sign-in the browser
goes back to the page it asked for, if that is a console path (no open redirect).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from gateway.console import sessions
from gateway.console.guard import Refused, see_other, viewer
from gateway.console.keys import COOKIE, PRE_COOKIE, PREFIX, TOKEN
from gateway.console.render import page
from gateway.store import Tenant, repo
from gateway.web import AUTH_LIMITER, DB, SETTINGS

log = logging.getLogger(__name__)
HOME = f"{PREFIX}/"
_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")


def safe_next(target: str | None) -> str:
    """``target`` if it is a path inside the console, else the dashboard."""
    if not target or any(c in target for c in "\\\r\n\t") or not target.isprintable():
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return HOME
    if not (parts.path == PREFIX or parts.path.startswith(HOME)):
        return HOME
    if parts.path.startswith(f"{PREFIX}/sign-"):
        return HOME
    return target


def secure(request: web.Request) -> bool:
    """Mark cookies Secure over TLS, behind a proxy that says it terminated TLS, or always
    when ``[console] secure_cookies`` is set. (A forged header only makes the sender's own
    cookie stricter.)"""
    if request.config_dict[SETTINGS].console.secure_cookies or request.secure:
        return True
    return request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, age: float
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(age),
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=secure(request),
    )


async def sign_in_form(request: web.Request) -> web.Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = _form(request, pre, error=None, status=200)
    _cookie(response, request, PRE_COOKIE, pre, 3600)
    return response


def _form(request: web.Request, pre: str, *, error: str | None, status: int) -> web.Response:
    nxt = safe_next(request.query.get("next"))
    return page(request, "sign_in.html", {"csrf": pre, "next": nxt, "error": error}, status=status)


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    pre = request.cookies.get(PRE_COOKIE)
    if not sessions.same(str(form.get("csrf", "")), pre):
        raise Refused(
            403,
            "Form refused",
            "The sign-in form did not carry a valid CSRF token. Open the sign-in page again.",
        )
    limiter = request.config_dict.get(AUTH_LIMITER)
    client = request.remote or "unknown"
    if limiter is not None and (wait := limiter.retry_after(client)) is not None:
        raise Refused(429, "Too many attempts", f"Wait {math.ceil(wait)} s before trying again.")
    presented = str(form.get("key", "")).strip()
    key = None
    if _KEY.fullmatch(presented):
        async with request.config_dict[DB].read() as s:
            key = await repo.verify_api_key(s, presented)
    if key is None or not sessions.may_sign_in(key):
        if limiter is not None:
            limiter.failed(client)
        log.info("console sign-in refused", extra={"known_key": key is not None})
        detail = (
            "This key may not use the console: it needs the admin, read or operator scope."
            if key is not None
            else "The key is unknown or revoked."
        )
        return _form(request, pre or "", error=detail, status=403 if key else 401)
    lifetime = request.config_dict[SETTINGS].console.session_seconds
    async with request.config_dict[DB].write() as s:
        token, _ = await sessions.create(s, key, lifetime=lifetime)
    log.info("console sign-in", extra={"key_id": key.id, "tenant": key.tenant})
    response = see_other(safe_next(str(form.get("next", "")) or None))
    _cookie(response, request, COOKIE, token, lifetime)
    response.del_cookie(PRE_COOKIE, path=PREFIX)
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[DB].write() as s:
        await sessions.end(s, request[TOKEN])
    response = see_other(f"{PREFIX}/sign-in")
    response.del_cookie(COOKIE, path=PREFIX)
    return response


async def switch_tenant(request: web.Request) -> web.StreamResponse:
    """An operator chooses the tenant shown (empty: every tenant)."""
    v = viewer(request)
    if not v.is_operator:
        raise Refused(403, "Not allowed", "Only an operator key can switch tenants.")
    form = await request.post()
    wanted = str(form.get("tenant", "")).strip() or None
    async with request.config_dict[DB].write() as s:
        if wanted is not None and await s.get(Tenant, wanted) is None:
            raise Refused(404, "No such tenant", f"There is no tenant {wanted!r}.")
        await sessions.touch(s, request[TOKEN], tenant=wanted, switch=True)
    return see_other(safe_next(str(form.get("next", "")) or None))
