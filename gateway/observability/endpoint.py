"""``GET /metrics``: the app's registry in the Prometheus text format, optionally protected.

``[metrics] token`` (when set) must come as ``Authorization: Bearer TOKEN``;
``[metrics] loopback_only`` refuses peers that are not on 127.0.0.0/8 or ::1. Both answers are
problem+json (401 ``unauthorized``, 403 ``forbidden``), like the rest of the API.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from gateway.observability.metrics import CONTENT_TYPE
from gateway.web import METRICS, SETTINGS, Problem, operation


@operation(
    "Prometheus metrics (text exposition format)",
    tag="system",
    responses={200: None},
    errors=(401, 403),
    description="Counters kept as things happen; database figures from a snapshot at most "
    "`metrics.snapshot_seconds` old. Protect with `metrics.token` or `metrics.loopback_only`.",
)
async def metrics_endpoint(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS].metrics
    if settings.loopback_only and not _is_loopback(request.remote):
        raise Problem(403, "forbidden", "/metrics answers only on the loopback interface.")
    if settings.token:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.token.encode()
        ):
            raise Problem(
                401,
                "unauthorized",
                "Send the metrics token as 'Authorization: Bearer TOKEN'.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body = await request.app[METRICS].render()
    return web.Response(
        body=body,
        headers={"Content-Type": CONTENT_TYPE, "X-Content-Type-Options": "nosniff"},
    )


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
