"""Bearer API keys: hashed at rest, scoped, bound to one tenant.

Every ``/v1`` request carries ``Authorization: Bearer gw_<id>_<secret>``. The middleware looks
the key up once per request and stores a :class:`Principal`; handlers call :func:`require`
for their scope and always filter by ``principal.tenant`` (tenant isolation). ``admin``
implies every other scope of the same tenant. The ``operator`` scope (service provider, across
tenants) is separate: handlers that act across tenants call :func:`require_operator`, and no
tenant scope implies it.

What reaches the database is bounded: a token that is not a well-formed key (wrong characters,
non-UTF-8 bytes, over-long) is refused without a lookup, unknown keys are cached as unknown, and
a client with too many failures in a window is answered 429 before anything else
(:mod:`gateway.web.keycache`). The key itself is never logged or kept, only its hash.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.lifecycle import API, Cause
from gateway.store import repo
from gateway.web.apis import api_of
from gateway.web.appkeys import DB, KEY_CACHE
from gateway.web.keycache import UNKNOWN, FailureLimiter
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
AUTH_LIMITER = web.AppKey("auth_limiter", FailureLimiter)
#: ``/v1`` paths anyone may read (the API description).
PUBLIC = frozenset({"/v1/openapi.json"})

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gateway"'}
#: RFC 6750 ``b64token``, at most 200 characters (our keys are 60).
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    api = api_of(request.app, request.path)
    if api is not None:
        if request.path in api.public:
            return await handler(request)
    elif not request.path.startswith("/v1/") or request.path in PUBLIC:
        return await handler(request)
    limiter = request.app.get(AUTH_LIMITER)
    client = request.remote or "unknown"
    if limiter is not None:
        wait = limiter.retry_after(client)
        if wait is not None:
            raise Problem(
                429,
                "too-many-auth-failures",
                "Too many failed authentications from this address; wait before retrying.",
                headers={"Retry-After": str(math.ceil(wait))},
                retry_after_seconds=math.ceil(wait),
            )
    try:
        request[PRINCIPAL] = await _authenticate(request)
    except Problem:
        if limiter is not None:
            limiter.failed(client)
        raise
    return await handler(request)


async def _authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Send an API key as 'Authorization: Bearer KEY'.")
    if not _TOKEN.fullmatch(token):
        raise _unauthorized("The Authorization header does not hold a well-formed API key.")
    cache = request.app[KEY_CACHE]
    cached = cache.get(token)
    if cached is UNKNOWN:
        raise _unauthorized("The API key is unknown or revoked.")
    if cached is not None:
        return cached
    async with request.app[DB].read() as session:
        key = await repo.verify_api_key(session, token)
    if key is None:
        cache.put_unknown(token)
        raise _unauthorized("The API key is unknown or revoked.")
    principal = Principal(key.id, key.tenant, key.scope_set)
    cache.put(token, principal)
    return principal


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers=_CHALLENGE)


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
