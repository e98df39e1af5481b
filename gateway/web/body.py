"""Request bodies read with a hard cap, so a huge upload is refused before it is buffered;
JSON bodies parsed into an object or refused with ``invalid-json``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import BodyPartReader, web

from gateway.inbound.intake import Attachment
from gateway.web.problems import Problem

_CHUNK = 64 * 1024
MAX_JSON_BODY = 64 * 1024
XML_TYPES = frozenset({"application/xml", "text/xml"})


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


async def read_multipart(request: web.Request, limit: int) -> tuple[bytes, list[Attachment]]:
    """The first XML part is the document; every other part is kept as an attachment."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    reader = await request.multipart()
    document: bytes | None = None
    attachments: list[Attachment] = []
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Problem(400, "bad-request", "Nested multipart bodies are not supported.")
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            data.extend(chunk)
        ctype = (part.headers.get("Content-Type") or "application/octet-stream").split(";")[0]
        name = part.filename or part.name or "attachment"
        is_xml = ctype.strip().lower() in XML_TYPES or name.lower().endswith(".xml")
        if document is None and (is_xml or part.name == "document"):
            document = bytes(data)
        else:
            attachments.append(Attachment(name, ctype.strip(), bytes(data)))
    if document is None:
        raise Problem(400, "missing-document", "The multipart body has no XML part.")
    return document, attachments
