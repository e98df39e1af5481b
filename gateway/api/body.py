"""Request bodies read with a hard cap, so a huge upload is refused before it is buffered."""

from __future__ import annotations

from aiohttp import web

from gateway.api.problems import Problem

_CHUNK = 64 * 1024


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
