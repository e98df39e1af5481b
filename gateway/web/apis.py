"""Separately described APIs served next to ours (e.g. the AFNOR XP Z12-013 Flow API).

A package that serves a standard API under its own prefix registers it with :func:`add_api`:

- its routes are authenticated with our API keys like ``/v1`` (except its ``public`` paths);
- refusals under the prefix are rendered by its own ``render`` (the standard's error body)
  instead of problem+json, for every refusal the toolkit makes (unknown route, bad key, oversized
  body, a :class:`~gateway.web.problems.Problem` raised by a handler, an unexpected error);
- its routes are left out of our ``/v1/openapi.json`` (the standard has its own description;
  they still need an :func:`~gateway.web.spec.operation`, :func:`~gateway.web.undescribed`
  checks them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.web.problems import Problem

Render = Callable[[web.Request, "Problem"], web.StreamResponse]


@dataclass(frozen=True)
class SeparateApi:
    prefix: str  # e.g. "/afnor/flow-service/" (ends with a slash)
    render: Render
    public: frozenset[str] = frozenset()


APIS = web.AppKey("separate_apis", tuple)


def add_api(
    app: web.Application, prefix: str, render: Render, *, public: frozenset[str] = frozenset()
) -> SeparateApi:
    api = SeparateApi(prefix if prefix.endswith("/") else prefix + "/", render, public)
    app[APIS] = (*app.get(APIS, ()), api)
    return api


def api_of(app: web.Application, path: str) -> SeparateApi | None:
    """The separate API ``path`` belongs to, if any."""
    for api in app.get(APIS, ()):
        if path.startswith(api.prefix):
            return api
    return None


def separate_prefixes(app: web.Application) -> tuple[str, ...]:
    return tuple(api.prefix for api in app.get(APIS, ()))
