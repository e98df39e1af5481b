"""RFC 9457 problem details: every refusal is ``application/problem+json`` with a stable ``code``.

Handlers raise :class:`Problem`; :func:`problem_middleware` renders it, and also turns aiohttp's
own refusals (unknown route, wrong method, oversized body) and unexpected errors into problems so
clients never have to parse an HTML error page.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from gateway.web.apis import api_of

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}

_HTTP_CODES = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    400: "bad-request",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra

    def response(self, instance: str | None = None) -> web.Response:
        body: dict[str, Any] = {
            "type": f"urn:gateway:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return web.Response(
            status=self.status,
            text=json.dumps(body, ensure_ascii=False),
            content_type=PROBLEM_TYPE,
            headers=self.headers,
        )


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        return _render(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, f"http-{exc.status}")
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return _render(request, Problem(exc.status, code, exc.reason, headers=headers))
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return _render(
            request, Problem(500, "internal-error", "The server failed; nothing was accepted.")
        )


def _render(request: web.Request, problem: Problem) -> web.StreamResponse:
    """problem+json, or the error body of the separate API the path belongs to."""
    api = api_of(request.app, request.path)
    return api.render(request, problem) if api is not None else problem.response(request.path)
