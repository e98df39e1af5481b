"""Route definitions: each handler says what it does, so the OpenAPI description is built from
the routes themselves and cannot drift.

Decorate every handler with :func:`operation`; ``gateway.web.openapi`` walks the app's router
and renders each route's :class:`Operation` (a test fails for a route without one). Schemas are
plain JSON Schema (OpenAPI 3.1 uses JSON Schema 2020-12); problem+json error responses are
added from ``errors`` (and 401/403 for any route with a ``scope``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.web.params import Params

JSON = "application/json"
Schema = Mapping[str, Any]
H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class Content:
    """A body of one media type (``schema`` may be ``{}`` for opaque bytes)."""

    media_type: str
    schema: Schema = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    scope: str | None = None  # None: no API key needed
    params: Params = field(default_factory=Params)
    body: tuple[Content, ...] = ()
    responses: Mapping[int, Content | Schema | tuple[Content, ...] | None] = field(
        default_factory=dict
    )
    errors: tuple[int, ...] = ()
    description: str = ""


ATTR = "__gateway_operation__"


def operation(
    summary: str,
    *,
    tag: str,
    scope: str | None = None,
    params: Params | None = None,
    body: Content | Schema | tuple[Content, ...] | None = None,
    responses: Mapping[int, Content | Schema | tuple[Content, ...] | None] | None = None,
    errors: tuple[int, ...] = (),
    description: str = "",
) -> Callable[[H], H]:
    """Attach the route's description to its handler (returns the handler unchanged).

    ``body``: a JSON Schema (JSON body), a :class:`Content`, or several; ``responses``: status
    -> JSON Schema / :class:`Content` / ``None`` (no body)."""
    if body is None:
        bodies: tuple[Content, ...] = ()
    elif isinstance(body, Content):
        bodies = (body,)
    elif isinstance(body, tuple):
        bodies = body
    else:
        bodies = (Content(JSON, body),)
    op = Operation(
        summary,
        tag,
        scope,
        params or Params(),
        bodies,
        dict(responses or {200: None}),
        errors,
        description,
    )

    def attach(handler: H) -> H:
        setattr(handler, ATTR, op)
        return handler

    return attach


def operation_of(handler: Any) -> Operation | None:
    return getattr(handler, ATTR, None)


# --- schemas shared by several routes -----------------------------------------------------------

OBJECT: Schema = {"type": "object"}
TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
TEXT_OR_NULL: Schema = {"type": ["string", "null"]}
DOCUMENT: Schema = {
    "type": "object",
    "required": ["id", "direction", "channel", "status", "sha256", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "direction": {"type": "string", "enum": ["inbound", "outbound"]},
        "channel": {"type": "string"},
        "tenant": TEXT_OR_NULL,
        "status": {"type": "string"},
        "duplicate_of": TEXT_OR_NULL,
        "sha256": {"type": "string"},
        "number": TEXT_OR_NULL,
        "issue_date": TEXT_OR_NULL,
        "seller_id": TEXT_OR_NULL,
        "buyer_id": TEXT_OR_NULL,
        "created_at": TIME,
        "updated_at": TIME,
    },
}


def page_of(item: Schema) -> Schema:
    """A cursor page: ``{"items": [...], "next_cursor": "N" | null}``."""
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": item}, "next_cursor": TEXT_OR_NULL},
    }


def xml_or_json(schema: Schema) -> tuple[Content, ...]:
    return (Content("application/xml", {"type": "string"}), Content(JSON, schema))
