"""The OpenAPI 3.1 description, built from the app's routes and their :func:`operation`s.

Nothing is written by hand per route here: paths, methods, parameters (from the route's
:class:`~gateway.web.params.Params` and its URL pattern), bodies, responses and the
problem+json errors all come from the route table, so the description cannot drift from
the server. :func:`undescribed` lists routes without an operation (a test keeps it empty).
The console's HTML pages (``/console``) are not part of the API and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from gateway.web.apis import separate_prefixes
from gateway.web.params import Param
from gateway.web.spec import JSON, Content, Operation, operation, operation_of

EXCLUDED_PREFIXES = ("/console",)
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
_PATH_VAR = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_TITLES = {
    400: "Bad request",
    401: "No or unknown API key",
    403: "The key lacks the scope",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    503: "Service unavailable",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "Stable machine-readable reason."},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


@operation(
    "This API description (OpenAPI 3.1), built from the route table",
    tag="system",
    responses={200: {"type": "object", "required": ["openapi", "paths"]}},
)
async def openapi_handler(request: web.Request) -> web.Response:
    from gateway import __version__

    return web.json_response(build(request.app, title="einvoice-gateway", version=__version__))


def api_routes(app: web.Application, *, separate: bool = False) -> Iterable[tuple[str, str, Any]]:
    """(method, path template, handler) of every API route of ours; ``separate=True``: also
    the routes of the separately described APIs (:mod:`gateway.web.apis`)."""
    skipped = EXCLUDED_PREFIXES if separate else EXCLUDED_PREFIXES + separate_prefixes(app)
    for route in app.router.routes():
        if route.method not in _METHODS:
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path is None or path.startswith(skipped):
            continue
        yield route.method, _PATH_VAR.sub(r"{\1}", path), route.handler


def undescribed(app: web.Application) -> list[str]:
    """Routes without an :func:`operation`, the separate APIs' included."""
    return [f"{m} {p}" for m, p, h in api_routes(app, separate=True) if operation_of(h) is None]


def build(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in api_routes(app):
        op = operation_of(handler)
        if op is not None:
            paths.setdefault(path, {})[method.lower()] = _operation(method, path, op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Every refusal is application/problem+json with a stable `code`.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(method: str, path: str, op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        out["description"] = op.description
    if op.scope is not None:
        out["security"] = [{"bearer": []}]
        out["x-scope"] = op.scope
    params = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for n in _PATH_VAR.findall(path)
    ]
    params += [_query_param(p) for p in op.params.params]
    if params:
        out["parameters"] = params
    if op.body:
        out["requestBody"] = {
            "required": True,
            "content": {c.media_type: {"schema": dict(c.schema)} for c in op.body},
        }
    out["responses"] = _responses(op, has_query=bool(op.params.params))
    return out


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path).strip("/").replace("-", "_").split("/")
    return "_".join([method.lower(), *filter(None, words)]) or method.lower()


def _query_param(p: Param) -> dict[str, Any]:
    schema: dict[str, Any]
    if p.kind == "int":
        schema = {"type": "integer", "minimum": p.minimum, "maximum": p.maximum}
    elif p.kind == "choice":
        schema = {"type": "string", "enum": p.allowed()}
    elif p.kind == "bool":
        schema = {"type": "boolean"}
    elif p.kind == "date":
        schema = {"type": "string", "format": "date"}
    elif p.kind == "datetime":
        schema = {"type": "string", "format": "date-time"}
    else:
        schema = {"type": "string", "minLength": 1, "maxLength": p.max_length}
    if p.default is not None:
        schema["default"] = p.default
    out: dict[str, Any] = {"name": p.name, "in": "query", "required": False, "schema": schema}
    if p.description:
        out["description"] = p.description
    return out


def _responses(op: Operation, *, has_query: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, spec in op.responses.items():
        entry: dict[str, Any] = {"description": _describe(status)}
        # One content, a schema (JSON), or a tuple of contents (a route that answers in
        # several media types, e.g. a rendering as HTML or PDF).
        if isinstance(spec, tuple):
            contents: tuple[Content, ...] = spec
        elif isinstance(spec, Content):
            contents = (spec,)
        else:
            contents = (Content(JSON, spec),) if spec else ()
        if contents:
            entry["content"] = {c.media_type: {"schema": dict(c.schema)} for c in contents}
        out[str(status)] = entry
    # 400 on every route: the edge middleware (gateway.web.checked) refuses a key in the URL
    # and query parameters or path segments no column could hold before any handler runs.
    errors = set(op.errors) | {400}
    if op.scope is not None:
        errors |= {401, 403, 429}  # 429: too many failed authentications from the client
    for status in sorted(errors):
        out[str(status)] = {
            "description": _TITLES.get(status, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    return out


def _describe(status: int) -> str:
    return {200: "OK", 201: "Created", 202: "Accepted", 204: "No content"}.get(status, "Success")
