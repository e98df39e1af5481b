"""aiohttp glue: ``POST /as4`` -> :meth:`As4Receiver.handle`. The lead mounts this route."""

from __future__ import annotations

from aiohttp import web

from gateway.as4.errors import EbmsError
from gateway.as4.receipt import build_error
from gateway.as4.receiver import SOAP_HEADERS, As4Receiver


def as4_handler(receiver: As4Receiver):  # type: ignore[no-untyped-def]
    """An aiohttp handler that streams the body with the size cap and answers with the signal."""

    async def handle(request: web.Request) -> web.Response:
        limit = receiver.limits.max_message_bytes
        if request.content_length is not None and request.content_length > limit:
            error = EbmsError("EBMS:0004", f"message exceeds {limit} bytes", http_status=413)
            return web.Response(
                status=413, headers=SOAP_HEADERS, body=build_error(error, None, receiver.identity)
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > limit:
                error = EbmsError("EBMS:0004", f"message exceeds {limit} bytes", http_status=413)
                return web.Response(
                    status=413,
                    headers=SOAP_HEADERS,
                    body=build_error(error, None, receiver.identity),
                )
            chunks.append(chunk)
        body = b"".join(chunks)
        status, headers, answer = await receiver.handle(
            body, request.headers.get("Content-Type", "")
        )
        return web.Response(status=status, headers=headers, body=answer)

    return handle


def make_app(receiver: As4Receiver, path: str = "/as4") -> web.Application:
    app = web.Application(client_max_size=receiver.limits.max_message_bytes + 1024 * 1024)
    app.router.add_post(path, as4_handler(receiver))
    return app
