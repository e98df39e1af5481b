"""Request bodies read with a hard cap, a deadline and a shared memory budget.

* **Cap**: a body over the route's limit is refused (413) as soon as ``Content-Length`` or the
  bytes streamed say so, before it is buffered.
* **Deadline** (``http.body_timeout``): a client trickling a body keeps a buffer and a
  connection; after the deadline it gets 408.
* **Budget** (``http.max_bodies_bytes``): bodies are held in memory until the document is
  stored. 25 concurrent 19 MB uploads took the process to 1 GB; with a budget, a request whose
  body does not fit next to the ones being handled is answered 503 with ``Retry-After`` at
  once (waiting would hold the connection and the bytes already read). The bytes reserved are
  released when the request ends (:func:`budget_middleware`).
* **JSON** (:func:`read_json`): nesting deeper than :data:`MAX_JSON_DEPTH` (``json`` recursed
  into a 500 at 30k levels), and strings a database cannot hold (NUL, lone surrogates, control
  characters), are refused with 400 naming where they are.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.inbound import Attachment
from gateway.store import text_fault
from gateway.web.problems import Problem

_CHUNK = 64 * 1024
MAX_JSON_BODY = 64 * 1024
XML_TYPES = frozenset({"application/xml", "text/xml"})
MAX_JSON_DEPTH = 32


class BodyBudget:
    """Bytes of request bodies the process may hold at once, across all requests."""

    def __init__(self, max_bytes: int, timeout: float) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.in_use = 0

    def reserve(self, request: web.Request, size: int) -> None:
        if size <= 0:
            return
        if self.in_use + size > self.max_bytes:
            raise Problem(
                503,
                "busy",
                "The gateway is receiving too many large requests at once; retry shortly.",
                headers={"Retry-After": "2"},
            )
        self.in_use += size
        request[_RESERVED] = request.get(_RESERVED, 0) + size

    def release(self, request: web.Request) -> None:
        self.in_use -= request.get(_RESERVED, 0)
        request[_RESERVED] = 0


BODY_BUDGET = web.AppKey("body_budget", BodyBudget)
_RESERVED = web.RequestKey("body_reserved", int)


@web.middleware
async def budget_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    finally:
        if BODY_BUDGET in request.app:
            request.app[BODY_BUDGET].release(request)


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "payload-too-large",
        f"The request body exceeds the limit of {limit} bytes.",
        limit=limit,
    )


def too_slow(timeout: float) -> Problem:
    return Problem(
        408,
        "request-timeout",
        f"The request body was not received within {timeout:g} seconds.",
        timeout_seconds=timeout,
    )


def incomplete() -> Problem:
    """The client hung up mid-body: nobody will read the answer, but nothing is an error."""
    return Problem(
        400, "incomplete-body", "The connection was closed before the whole body arrived."
    )


def _budget(request: web.Request) -> BodyBudget | None:
    return request.app.get(BODY_BUDGET)


def reserve(request: web.Request, size: int) -> None:
    """Count ``size`` more bytes of this request's body against the shared budget."""
    budget = _budget(request)
    if budget is not None:
        budget.reserve(request, size)


def body_timeout(request: web.Request) -> float | None:
    budget = _budget(request)
    return budget.timeout if budget is not None else None


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The body, or 413 as soon as ``Content-Length`` or the bytes streamed exceed ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    declared = request.content_length or 0
    reserve(request, declared)
    timeout = body_timeout(request)
    try:
        async with asyncio.timeout(timeout):
            return await _read(request, limit, declared)
    except TimeoutError:
        raise too_slow(timeout or 0) from None
    except ConnectionResetError:
        raise incomplete() from None


async def _read(request: web.Request, limit: int, declared: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        if size > declared:  # chunked bodies (no Content-Length) are counted as they come
            reserve(request, min(len(chunk), size - declared))
            declared = size
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``), or 400 ``invalid-json`` when it is
    not one a handler can trust."""
    raw = await read_capped(request, limit)
    try:
        payload = json.loads(raw or b"{}")
    except RecursionError:
        raise _bad_json(f"is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise Problem(400, "invalid-json", f"The body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Problem(400, "invalid-json", "The body must be a JSON object.")
    _check_json(payload)
    return payload


def _bad_json(why: str, where: str | None = None) -> Problem:
    at = f" at {where}" if where else ""
    extra = {"pointer": where} if where else {}
    return Problem(400, "invalid-json", f"The JSON body {why}{at}.", **extra)


def _check_json(payload: Any) -> None:
    """Walk ``payload`` without recursion: depth and every string (keys too) checked."""
    stack: list[tuple[Any, str, int]] = [(payload, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _bad_json(f"is nested deeper than {MAX_JSON_DEPTH} levels", where)
        if isinstance(value, dict):
            for key, item in value.items():
                fault = text_fault(key, 200)
                if fault is not None:
                    raise _bad_json(f"has a key that {fault}", where or "/")
                stack.append((item, f"{where}/{key}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}/{i}", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            fault = text_fault(value, None, single_line=False)
            if fault is not None:
                raise _bad_json(f"has a string that {fault}", where)


async def read_multipart(request: web.Request, limit: int) -> tuple[bytes, list[Attachment]]:
    """The first XML part is the document; every other part is kept as an attachment.

    Bounded like every body: ``limit`` bytes, the shared body budget and the body timeout; a
    broken body (no boundary, truncated, bad part headers) is the client's 400, not a 500.
    """
    document: bytes | None = None
    attachments: list[Attachment] = []
    for part in await read_form(request, limit):
        is_xml = part.content_type.lower() in XML_TYPES or part.filename.lower().endswith(".xml")
        if document is None and (is_xml or part.field == "document"):
            document = part.data
        else:
            attachments.append(part)
    if document is None:
        raise Problem(400, "missing-document", "The multipart body has no XML part.")
    return document, attachments


@dataclass
class FormPart(Attachment):
    """One part of a multipart body: its form field name as well as its file name."""

    field: str | None = None


async def read_form(request: web.Request, limit: int) -> list[FormPart]:
    """Every part of a multipart body, in order, bounded as :func:`read_multipart` is."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    timeout = body_timeout(request)
    try:
        async with asyncio.timeout(timeout):
            return await _multipart_parts(request, limit)
    except TimeoutError:
        raise too_slow(timeout or 0) from None
    except ConnectionResetError:
        raise incomplete() from None
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        # aiohttp's reader signals a broken body with ValueError/AssertionError/RuntimeError,
        # and bad part headers with HttpProcessingError (InvalidHeader).
        raise Problem(
            400, "bad-multipart", f"The multipart body cannot be read: {exc or type(exc).__name__}."
        ) from exc


async def _multipart_parts(request: web.Request, limit: int) -> list[FormPart]:
    reader = await request.multipart()
    parts: list[FormPart] = []
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Problem(400, "bad-request", "Nested multipart bodies are not supported.")
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            reserve(request, len(chunk))
            data.extend(chunk)
        ctype = (part.headers.get("Content-Type") or "application/octet-stream").split(";")[0]
        name = part.filename or part.name or "attachment"
        parts.append(FormPart(name, ctype.strip(), bytes(data), field=part.name))
    return parts
