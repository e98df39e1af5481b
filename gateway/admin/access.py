"""Who may manage which tenant, and management refusals as problem+json.

A tenant's admin key manages its own tenant; an operator key every tenant. Another tenant's
name answers 404 exactly like a tenant that does not exist, so a tenant admin learns nothing
about who else is served (the same rule as documents: ``gateway.web.not_found``). Routes that
only the service provider may use (create or delete tenants, add participant ids, mint
operator keys) answer 403 to a tenant admin, whichever tenant it names.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.admin.errors import Refused
from gateway.admin.tenants import get_tenant
from gateway.web import (
    DB,
    PRINCIPAL,
    Principal,
    Problem,
    not_found,
    operation,
    page_of,
    require,
    require_operator,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: ``await work(request, session, tenant)``: what a simple tenant route does.
Work = Callable[[web.Request, Any, str], Awaitable[Any]]


def problem_of(exc: Refused) -> Problem:
    return Problem(exc.http_status, exc.code, exc.detail, **exc.extra)


def answers_refusals(handler: Handler) -> Handler:
    """Turn a :class:`Refused` from the management functions into its problem+json answer."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as exc:
            raise problem_of(exc) from exc

    return wrapped


async def managed_tenant(request: web.Request, *, operator_only: bool = False) -> Principal:
    """The principal if it may manage ``{tenant}`` of the URL (which exists), else 403/404."""
    principal: Principal = request[PRINCIPAL]
    name = request.match_info["tenant"]
    if principal.is_operator:
        async with request.app[DB].read() as s:
            await get_tenant(s, name)
        return principal
    require(request, "admin")
    if principal.tenant != name:
        raise not_found("tenant", name)
    if operator_only:
        require_operator(request)
    return principal


async def on_tenant(
    request: web.Request,
    work: Callable[[Any, str], Awaitable[Any]],
    *,
    write: bool = False,
    operator_only: bool = False,
) -> Any:
    """``await work(session, tenant)`` for the URL's ``{tenant}`` once the caller may manage it,
    in a write transaction or a read snapshot."""
    await managed_tenant(request, operator_only=operator_only)
    db = request.app[DB]
    async with db.write() if write else db.read() as s:
        return await work(s, request.match_info["tenant"])


def tenant_route(
    summary: str,
    response: dict[str, Any],
    work: Work,
    *,
    write: bool = False,
    listing: bool = False,
    errors: tuple[int, ...] = (404,),
) -> Handler:
    """A described handler that answers ``work``'s result for a tenant the caller may manage
    (``listing``: as ``{"items": [...], "next_cursor": null}``)."""

    async def handler(request: web.Request) -> web.Response:
        body = await on_tenant(request, lambda s, t: work(request, s, t), write=write)
        return web.json_response({"items": body, "next_cursor": None} if listing else body)

    described = operation(
        summary,
        tag="admin",
        scope="admin",
        responses={200: page_of(response) if listing else response},
        errors=errors,
    )
    return described(answers_refusals(handler))


def scope_tenant(principal: Principal) -> str | None:
    """The tenant a listing is limited to: None (all) for operators, else the key's own."""
    return None if principal.is_operator else principal.tenant


def admin_or_operator(request: web.Request) -> Principal:
    principal: Principal = request[PRINCIPAL]
    return principal if principal.is_operator else require(request, "admin")


def managed_scope(request: web.Request) -> str | None:
    """For routes not under ``{tenant}``: an operator acts on every tenant (None), an admin key
    on its own tenant only; any other key is refused (403)."""
    return scope_tenant(admin_or_operator(request))


def body_of(payload: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise Problem(
            422,
            "invalid-request",
            f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.",
        )
    return payload
