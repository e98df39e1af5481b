"""The HTTP toolkit every route module uses: app keys, API-key auth, problems, bodies, params.

Route modules of every package (``gateway.api``, ``gateway.outbound``, ``gateway.responses``,
``gateway.as4``, ``gateway.admin``, the console) import these names from ``gateway.web`` and
from nowhere else, so no package reaches into another's HTTP module for its helpers and
``gateway.server`` stays the app factory. The private modules behind this face:

- ``appkeys``: typed ``app[...]`` keys (``DB``, ``INTAKE``, ``SETTINGS``, ``FORWARDER``,
  ``METRICS``, ``LIFECYCLE``, ``KEY_CACHE``);
- ``auth``: ``Authorization: Bearer`` key lookup (cached), :class:`Principal`, :func:`require`;
- ``problems``: RFC 9457 ``application/problem+json`` with a stable ``code``;
- ``body``: size-capped body reading, JSON objects;
- ``params``: declared query parameters, strict parsing (unknown name or bad value = 400);
- ``lookup``: a tenant's row or 404;
- ``spec`` / ``openapi``: :func:`operation` describes a route on its handler; the OpenAPI 3.1
  document is built from the route table (``gateway.web.openapi``);
- ``instrument``: the request counter middleware;
- ``hooks``: extension points of the document API (status listeners, document views).
"""

from gateway.web.appkeys import DB, FORWARDER, INTAKE, KEY_CACHE, LIFECYCLE, METRICS, SETTINGS
from gateway.web.auth import PRINCIPAL, Principal, auth_middleware, require, require_operator
from gateway.web.body import (
    MAX_JSON_BODY,
    XML_TYPES,
    read_capped,
    read_json,
    read_multipart,
    too_large,
)
from gateway.web.hooks import (
    StatusChanged,
    add_document_view,
    add_status_guard,
    document_views,
    on_status_changed,
    status_changed,
    status_refusal,
    status_refused,
)
from gateway.web.instrument import metrics_middleware
from gateway.web.keycache import KeyCache
from gateway.web.lookup import document_or_404, not_found
from gateway.web.openapi import openapi_handler, undescribed
from gateway.web.params import Param, Params, cursor, int_param, invalid, limit
from gateway.web.problems import PROBLEM_TYPE, Problem, problem_middleware
from gateway.web.spec import (
    DOCUMENT,
    JSON,
    OBJECT,
    TIME,
    Content,
    Operation,
    operation,
    operation_of,
    page_of,
)

__all__ = [
    "DB",
    "DOCUMENT",
    "FORWARDER",
    "INTAKE",
    "JSON",
    "KEY_CACHE",
    "LIFECYCLE",
    "MAX_JSON_BODY",
    "METRICS",
    "OBJECT",
    "PRINCIPAL",
    "PROBLEM_TYPE",
    "SETTINGS",
    "TIME",
    "XML_TYPES",
    "Content",
    "KeyCache",
    "Operation",
    "Param",
    "Params",
    "Principal",
    "Problem",
    "StatusChanged",
    "add_document_view",
    "add_status_guard",
    "auth_middleware",
    "cursor",
    "document_or_404",
    "document_views",
    "int_param",
    "invalid",
    "limit",
    "metrics_middleware",
    "not_found",
    "on_status_changed",
    "openapi_handler",
    "operation",
    "operation_of",
    "page_of",
    "problem_middleware",
    "read_capped",
    "read_json",
    "read_multipart",
    "require",
    "require_operator",
    "status_changed",
    "status_refusal",
    "status_refused",
    "too_large",
    "undescribed",
]
