"""The plain ``http`` transport: POST the document, let the status code decide.

2xx = delivered; 408, 429, 5xx and connection problems = transient; any other 4xx =
permanent (the receiver understood us and said no). The ``Message-Id`` header is the
queue item's stable message id, identical on every retry, so a receiver that already has
it can acknowledge and discard the repeat.
"""

from __future__ import annotations

import aiohttp

from gateway.outbound.errors import PermanentError, TransientError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage

TRANSIENT_STATUS = frozenset({408, 429})
_MAX_DETAIL = 500


class HttpTransport:
    name = "http"

    def __init__(self, timeout: float = 30.0, limit: int = 100) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self._session

    async def send(self, item: OutboundMessage, endpoint: Endpoint) -> DeliveryResult:
        headers = {
            "Content-Type": "application/xml",
            "Message-Id": item.message_id,
            "X-Gateway-Sender": item.sender,
            "X-Gateway-Receiver": item.receiver,
            "X-Gateway-Document-Type": item.document_type,
            "X-Gateway-Process": item.process,
            "X-Gateway-Attempt": str(item.attempt),
        }
        try:
            async with self._client().post(
                endpoint.url, data=item.payload, headers=headers, allow_redirects=False
            ) as resp:
                text = (await resp.text(errors="replace"))[:_MAX_DETAIL]
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientError(
                f"{endpoint.url}: {type(exc).__name__}: {exc}", "connection-failed"
            ) from exc
        if 200 <= status < 300:
            return DeliveryResult(status=status, detail=text)
        reason = f"{endpoint.url} answered HTTP {status}: {text.strip()}".strip()
        if status in TRANSIENT_STATUS or status >= 500:
            raise TransientError(reason, f"http-{status}")
        raise PermanentError(reason, f"http-{status}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
