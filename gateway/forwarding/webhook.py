"""Forwarding to the tenant's accounting system: webhook deliveries and inbox entries.

Intake calls :meth:`Forwarder.enqueue` inside the transaction that stores an original, so a
delivery can never be lost between "stored" and "queued". A background task then POSTs the
document to the tenant's webhook with tenacity retries (exponential backoff with jitter); every
attempt is a row in ``delivery_attempts``, visible in ``GET /v1/documents/{id}``. Delivery is
at-least-once: receivers de-duplicate on ``X-Gateway-Delivery``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from gateway.config import WebhookSettings
from gateway.forwarding.signing import SIGNATURE_HEADER, sign
from gateway.store import (
    Database,
    DeliveryAttempt,
    Document,
    InboxItem,
    Tenant,
    WebhookDelivery,
    repo,
)
from gateway.store.models import utcnow
from gateway.store.serialize import document_summary

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """One attempt failed (network error or non-2xx answer); tenacity retries it."""


async def mark_forwarded(
    session: AsyncSession, doc: Document, source: str, actor: str | None
) -> None:
    """received -> forwarded; later workflow statuses are never moved back."""
    if doc.status == "received":
        repo.record_status(session, doc, "forwarded", source=source, actor=actor)


class Forwarder:
    def __init__(self, db: Database, settings: WebhookSettings, max_parallel: int = 8) -> None:
        self.db = db
        self.settings = settings
        self._wake = asyncio.Event()
        self._work = True  # deliveries left over from a previous run are picked up at start
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(max_parallel)
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    # --- called by intake / admin, inside their transaction ---------------------------------

    async def enqueue(self, session: AsyncSession, doc: Document) -> None:
        assert doc.tenant is not None
        session.add(InboxItem(tenant=doc.tenant, document_id=doc.id))
        tenant = await session.get(Tenant, doc.tenant)
        if tenant is not None and tenant.webhook_url:
            self._work = True
            session.add(
                WebhookDelivery(document_id=doc.id, tenant=doc.tenant, url=tenant.webhook_url)
            )

    def wake(self) -> None:
        """Look for pending deliveries now (only if something was queued since the last look)."""
        if self._work:
            self._wake.set()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        self._http = aiohttp.ClientSession(timeout=timeout)
        self._task = asyncio.create_task(self._run(), name="webhook-forwarder")

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._inflight.values()] if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self._http is not None:
            await self._http.close()

    async def _run(self) -> None:
        while True:
            try:
                await self._dispatch_pending()
            except Exception:  # keep forwarding alive; the next round retries
                log.exception("webhook dispatch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5.0)
            self._wake.clear()

    async def _dispatch_pending(self) -> None:
        self._work = False
        async with self.db.read() as s:
            seqs = list(
                await s.scalars(
                    select(WebhookDelivery.seq)
                    .where(WebhookDelivery.state == "pending")
                    .order_by(WebhookDelivery.seq)
                    .limit(200)
                )
            )
        for seq in seqs:
            if seq not in self._inflight:
                task = asyncio.create_task(self._deliver(seq), name=f"webhook-{seq}")
                self._inflight[seq] = task
                task.add_done_callback(lambda _t, seq=seq: self._inflight.pop(seq, None))

    # --- one delivery ------------------------------------------------------------------------

    async def _deliver(self, seq: int) -> None:
        async with self.db.read() as s:
            delivery = await s.get(WebhookDelivery, seq)
            if delivery is None or delivery.state != "pending":
                return
            doc = await repo.get_document(s, delivery.document_id, None)
            raw, _ = await repo.get_raw(s, doc.id, None)
            tenant = await s.get(Tenant, delivery.tenant)
        secret = (tenant.webhook_secret if tenant else None) or ""
        body = json.dumps(
            {
                "event": "document.received",
                "delivery": seq,
                "document": document_summary(doc),
                "content_base64": base64.b64encode(raw).decode("ascii"),
            }
        ).encode()
        remaining = max(1, self.settings.max_attempts - delivery.attempts)
        number = delivery.attempts
        retrying = AsyncRetrying(
            stop=stop_after_attempt(remaining),
            wait=wait_exponential(
                multiplier=self.settings.retry_initial, max=self.settings.retry_max
            )
            + wait_random(0, self.settings.retry_initial),
            retry=retry_if_exception_type(DeliveryFailed),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number += 1
                    await self._attempt(delivery, number, body, secret)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            await self._finish(seq, "failed", str(last))
            log.warning("webhook delivery failed for good", extra={"delivery": seq})
            return
        await self._finish(seq, "delivered", None)

    async def _attempt(
        self, delivery: WebhookDelivery, number: int, body: bytes, secret: str
    ) -> None:
        assert self._http is not None
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            "X-Gateway-Delivery": str(delivery.seq),
            "X-Gateway-Document-Id": delivery.document_id,
            "X-Gateway-Attempt": str(number),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        async with self._limit:
            try:
                async with self._http.post(delivery.url, data=body, headers=headers) as resp:
                    status = resp.status
                    await resp.read()
                    if not 200 <= status < 300:
                        error = f"HTTP {status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        async with self.db.write() as s:
            s.add(
                DeliveryAttempt(
                    delivery_seq=delivery.seq,
                    number=number,
                    http_status=status,
                    error=error,
                    duration_ms=elapsed,
                )
            )
            row = await s.get(WebhookDelivery, delivery.seq)
            if row is not None:
                row.attempts = number
                row.last_error = error
        if error:
            raise DeliveryFailed(error)

    async def _finish(self, seq: int, state: str, error: str | None) -> None:
        async with self.db.write() as s:
            row = await s.get(WebhookDelivery, seq)
            if row is None:
                return
            row.state = state
            row.finished_at = utcnow()
            if error:
                row.last_error = error
            if state == "delivered":
                doc = await repo.get_document(s, row.document_id, None)
                await mark_forwarded(s, doc, "webhook", row.url)
