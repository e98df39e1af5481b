"""The HTTP toolkit every route module uses: app keys, API-key auth, problems, bodies, params.

Route modules of every package (``gateway.api``, ``gateway.outbound``, ``gateway.responses``,
``gateway.as4``, ``gateway.admin``, the console) import these names from ``gateway.web`` and
from nowhere else, so no package reaches into another's HTTP module for its helpers and
``gateway.server`` stays the app factory. The private modules behind this face:

- ``appkeys``: typed ``app[...]`` keys (``DB``, ``INTAKE``, ``SETTINGS``, ``FORWARDER``,
  ``METRICS``, ``LIFECYCLE``, ``KEY_CACHE``, ``OUTBOUND``);
- ``auth``: ``Authorization: Bearer`` key lookup (cached), :class:`Principal`, :func:`require`;
- ``problems``: RFC 9457 ``application/problem+json`` with a stable ``code``;
- ``body``: size-capped body reading with a deadline and a shared memory budget, JSON objects
  (depth and strings checked);
- ``params``: declared query parameters, strict parsing (unknown name or bad value = 400);
- ``checked``: every string a handler takes from a request checked like a stored value
  (length, NUL, lone surrogates, line breaks), ``edge_middleware`` (no key in the URL);
- ``lookup``: a tenant's row or 404;
- ``spec`` / ``openapi``: :func:`operation` describes a route on its handler; the OpenAPI 3.1
  document is built from the route table (``gateway.web.openapi``);
- ``instrument``: the request counter middleware;
- ``apis``: separately described standard APIs under a prefix (own error body, own OpenAPI),
  :func:`add_api`;
- ``hooks``: extension points of the document API (status listeners, document views).
"""

from gateway.web.apis import SeparateApi, add_api, separate_prefixes
from gateway.web.appkeys import (
    DB,
    FORWARDER,
    INTAKE,
    KEY_CACHE,
    LIFECYCLE,
    METRICS,
    OUTBOUND,
    SETTINGS,
)
from gateway.web.auth import (
    AUTH_LIMITER,
    PRINCIPAL,
    Principal,
    auth_middleware,
    require,
    require_operator,
)
from gateway.web.body import (
    BODY_BUDGET,
    MAX_JSON_BODY,
    XML_TYPES,
    BodyBudget,
    FormPart,
    body_timeout,
    budget_middleware,
    incomplete,
    read_capped,
    read_form,
    read_json,
    read_multipart,
    reserve,
    too_large,
    too_slow,
)
from gateway.web.checked import (
    edge_middleware,
    field_rejected,
    field_text,
    header_text,
    invalid_field,
    invalid_parameter,
    query_text,
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
from gateway.web.keycache import FailureLimiter, KeyCache
from gateway.web.lookup import document_or_404, not_found
from gateway.web.openapi import build as build_openapi
from gateway.web.openapi import openapi_handler, undescribed
from gateway.web.params import Param, Params, cursor, int_param, invalid, limit, number_id
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
    "AUTH_LIMITER",
    "BODY_BUDGET",
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
    "OUTBOUND",
    "PRINCIPAL",
    "PROBLEM_TYPE",
    "SETTINGS",
    "TIME",
    "XML_TYPES",
    "BodyBudget",
    "Content",
    "FailureLimiter",
    "FormPart",
    "KeyCache",
    "Operation",
    "Param",
    "Params",
    "Principal",
    "Problem",
    "SeparateApi",
    "StatusChanged",
    "add_api",
    "add_document_view",
    "add_status_guard",
    "auth_middleware",
    "body_timeout",
    "budget_middleware",
    "build_openapi",
    "cursor",
    "document_or_404",
    "document_views",
    "edge_middleware",
    "field_rejected",
    "field_text",
    "header_text",
    "incomplete",
    "int_param",
    "invalid",
    "invalid_field",
    "invalid_parameter",
    "limit",
    "metrics_middleware",
    "not_found",
    "number_id",
    "on_status_changed",
    "openapi_handler",
    "operation",
    "operation_of",
    "page_of",
    "problem_middleware",
    "query_text",
    "read_capped",
    "read_form",
    "read_json",
    "read_multipart",
    "require",
    "require_operator",
    "reserve",
    "separate_prefixes",
    "status_changed",
    "status_refusal",
    "status_refused",
    "too_large",
    "too_slow",
    "undescribed",
]
