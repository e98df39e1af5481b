"""Request bodies read with a hard cap, so a huge upload is refused before it is buffered;
JSON bodies parsed into an object or refused with ``invalid-json``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.web.problems import Problem

_CHUNK = 64 * 1024
MAX_JSON_BODY = 64 * 1024


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "payload-too-large",
        f"The request body exceeds the limit of {limit} bytes.",
        limit=limit,
    )


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The body, or 413 as soon as ``Content-Length`` or the bytes streamed exceed ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``), or 400 ``invalid-json``."""
    raw = await read_capped(request, limit)
    try:
        payload = json.loads(raw or b"{}")
    except ValueError as exc:
        raise Problem(400, "invalid-json", f"The body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Problem(400, "invalid-json", "The body must be a JSON object.")
    return payload
