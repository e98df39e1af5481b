"""One signed webhook POST: the headers every event carries and what the receiver answered.

Shared by the delivery loop (:class:`~gateway.forwarding.webhook.Forwarder`) and the test
event (:func:`~gateway.forwarding.probe.send_test_event`), so a test exercises exactly what a
real delivery sends: the same signature, event header and error wording.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp

from gateway.forwarding.destinations import DestinationRefused, check_literal
from gateway.forwarding.signing import SIGNATURE_HEADER, sign

EVENT_HEADER = "X-Gateway-Event"


@dataclass(frozen=True)
class PostResult:
    """What one POST got: the HTTP status (None when no answer came) and the error, if any."""

    status: int | None
    error: str | None
    duration_ms: float

    @property
    def outcome(self) -> str:
        """A bounded label: ``ok``, ``http_4xx``, ``http_5xx``, ... or ``error`` (no answer)."""
        if self.error is None:
            return "ok"
        if self.status is None:
            return "error"
        return f"http_{self.status // 100}xx"


async def post_signed(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    secret: str | None,
    event: str,
    headers: dict[str, str],
    allow_private: bool = False,
) -> PostResult:
    """POST ``body`` signed with ``secret`` (None: the caller's ``headers`` carry the event's own
    signature); a non-2xx answer or a network error is an error.

    Unless ``allow_private``, an IP-literal destination that is not public is refused here and
    names are checked by ``http``'s resolver (:func:`gateway.forwarding.destinations.
    webhook_session`). Redirects are never followed: a 3xx is an error."""
    sent = {"Content-Type": "application/json", EVENT_HEADER: event, **headers}
    if secret is not None:
        sent[SIGNATURE_HEADER] = sign(secret, body)
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    if not allow_private:
        try:
            check_literal(url)
        except DestinationRefused as exc:
            return PostResult(None, f"DestinationRefused: {exc.detail}", 0.0)
    try:
        # Never follow a redirect (gateway.forwarding.destinations says why): a 3xx is an error.
        async with http.post(url, data=body, headers=sent, allow_redirects=False) as resp:
            status = resp.status
            await resp.read()
            if not 200 <= status < 300:
                error = f"HTTP {status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return PostResult(status, error, (time.perf_counter() - started) * 1000)
