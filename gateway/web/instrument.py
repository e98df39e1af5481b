"""Counting every HTTP request by route template, method and status (for /metrics).

The route label is the resource's template (``/v1/documents/{id}``), never the raw path, so
the series count is bounded by the route table; requests that match no route count as
``unmatched``. Runs outermost, so it sees the status problem+json answers ended with.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from gateway.web.appkeys import METRICS


@web.middleware
async def metrics_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = request.match_info.route
        resource = route.resource if route is not None else None
        template = resource.canonical if resource is not None else "unmatched"
        request.app[METRICS].request(
            template, request.method, status, time.perf_counter() - started
        )
