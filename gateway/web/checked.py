"""Checked request values: strings from queries, headers, paths and JSON, refused with their name.

Why one helper: the store's columns have lengths and PostgreSQL refuses NULs and lone
surrogates, so an unchecked ``?receiver=`` or ``reason`` became a 500 there (and a CR/LF in a
receiver a 202 followed by twelve failed deliveries). Every value a handler takes from a request
goes through these functions (or :class:`gateway.web.params.Param`, which uses the same
check), which apply :func:`gateway.store.fit.text_fault` and answer
``400 invalid-parameter`` / ``invalid-header`` or ``422 invalid-field`` naming the value.

:func:`edge_middleware` applies the generic part to every request before any handler (and before
authentication): no API key in the URL, and no query parameter a database could not hold.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.store import FieldRejected, text_fault
from gateway.web.problems import Problem

#: Longest query parameter value accepted at all; routes ask for less where a column is smaller.
MAX_PARAMETER = 1000
#: Longest path segment ({id} and kin) accepted.
MAX_PATH_SEGMENT = 200
#: Query parameters that look like credentials: refused, so clients learn to use the header.
SECRET_PARAMETERS = frozenset({"api_key", "apikey", "key", "token", "access_token", "auth"})


def query_text(
    request: web.Request, name: str, max_length: int = MAX_PARAMETER, default: str | None = None
) -> str | None:
    """The query parameter ``name`` (``default`` when absent or empty), checked."""
    value = request.query.get(name)
    if not value:
        return default
    fault = text_fault(value, max_length)
    if fault is not None:
        raise invalid_parameter(name, fault)
    return value


def header_text(request: web.Request, name: str, max_length: int) -> str | None:
    """The header ``name`` stripped (None when absent), checked."""
    value = request.headers.get(name)
    if value is None:
        return None
    fault = text_fault(value.strip(), max_length)
    if fault is not None:
        raise Problem(
            400, "invalid-header", f"The {name} header {fault}.", header=name, reason=fault
        )
    return value.strip()


def field_text(
    payload: dict[str, Any],
    name: str,
    max_length: int | None,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """The string field ``name`` of a JSON body (None when absent), checked."""
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise invalid_field(name, "must be a string")
    fault = text_fault(value, max_length, single_line=not multiline)
    if fault is not None:
        raise invalid_field(name, fault)
    return value


def invalid_parameter(name: str, why: str) -> Problem:
    return Problem(
        400, "invalid-parameter", f"Query parameter {name} {why}.", parameter=name, reason=why
    )


def invalid_field(name: str, why: str) -> Problem:
    return Problem(422, "invalid-field", f"Field {name} {why}.", field=name, reason=why)


def field_rejected(exc: FieldRejected) -> Problem:
    """422 for a value of the submitted document that cannot be stored (too long, NUL, ...)."""
    return Problem(
        422,
        "invalid-field",
        f"The document cannot be stored: {exc.field} {exc.why}.",
        field=exc.field,
        reason=exc.why,
    )


@web.middleware
async def edge_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse credentials in the URL and query parameters no column could hold, for every route."""
    for name, value in request.query.items():
        if name.lower() in SECRET_PARAMETERS:
            raise Problem(
                400,
                "key-in-url",
                "API keys are accepted only in the 'Authorization: Bearer KEY' header, never in "
                "the URL (URLs end up in proxy logs and browser histories).",
                parameter=name,
            )
        name_fault = text_fault(name, 100)
        if name_fault is not None:
            raise invalid_parameter("(name)", name_fault)
        fault = text_fault(value, MAX_PARAMETER)
        if fault is not None:
            raise invalid_parameter(name, fault)
    for name, value in request.match_info.items():
        fault = text_fault(value, MAX_PATH_SEGMENT)
        if fault is not None:
            raise Problem(
                400, "invalid-path", f"Path segment {name} {fault}.", segment=name, reason=fault
            )
    return await handler(request)
