"""Bearer API keys: hashed at rest, scoped, bound to one tenant.

Every ``/v1`` request carries ``Authorization: Bearer gw_<id>_<secret>``. The middleware looks
the key up once per request and stores a :class:`Principal`; handlers call :func:`require`
for their scope and always filter by ``principal.tenant`` (tenant isolation). ``admin``
implies every other scope of the same tenant. The ``operator`` scope (service provider, across
tenants) is separate: handlers that act across tenants call :func:`require_operator`, and no
tenant scope implies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.lifecycle import Cause
from gateway.lifecycle.vocabulary import API
from gateway.store import repo
from gateway.web.appkeys import DB, KEY_CACHE
from gateway.web.problems import Problem


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    @property
    def is_operator(self) -> bool:
        return repo.OPERATOR in self.scopes

    def cause(self, source: str, role: str = API, actor: str | None = None) -> Cause:
        """This key as the cause of a lifecycle move (the history names tenant and key)."""
        return Cause(
            source, role=role, actor=actor or self.actor, tenant=self.tenant, key_id=self.key_id
        )


PRINCIPAL = web.RequestKey("principal", Principal)
#: ``/v1`` paths anyone may read (the API description).
PUBLIC = frozenset({"/v1/openapi.json"})

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gateway"'}


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/v1/") or request.path in PUBLIC:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "unauthorized",
            "Send an API key as 'Authorization: Bearer KEY'.",
            headers=_CHALLENGE,
        )
    token = token.strip()
    cache = request.app[KEY_CACHE]
    principal = cache.get(token)
    if principal is None:
        async with request.app[DB].read() as session:
            key = await repo.verify_api_key(session, token)
        if key is None:
            raise Problem(
                401, "unauthorized", "The API key is unknown or revoked.", headers=_CHALLENGE
            )
        principal = Principal(key.id, key.tenant, key.scope_set)
        cache.put(token, principal)
    request[PRINCIPAL] = principal
    return await handler(request)


def require(request: web.Request, scope: str) -> Principal:
    """The principal if its key has ``scope`` (``admin`` implies the tenant scopes, never
    ``operator``), else 403."""
    if scope == repo.OPERATOR:
        return require_operator(request)
    principal = request[PRINCIPAL]
    if scope not in principal.scopes and "admin" not in principal.scopes:
        raise Problem(
            403,
            "forbidden",
            f"This API key lacks the '{scope}' scope.",
            required_scope=scope,
        )
    return principal


def require_operator(request: web.Request) -> Principal:
    """The principal of an operator key (``gateway keys create --operator``), else 403."""
    principal = request[PRINCIPAL]
    if not principal.is_operator:
        raise Problem(
            403,
            "forbidden",
            "This needs an operator key (made with `gateway keys create --operator`).",
            required_scope=repo.OPERATOR,
        )
    return principal
