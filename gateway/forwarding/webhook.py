"""Forwarding to the tenant's accounting system: the task that delivers webhook events.

Intake calls :meth:`Forwarder.enqueue` inside the transaction that stores an original (the
``document.received`` event and the document's pull-inbox entry); the lifecycle's events are
written by :meth:`~gateway.forwarding.events.WebhookEvents.emit` (:mod:`gateway.forwarding.
events`), and go to the webhook only (the inbox lists new documents). Every event carries its
type in the JSON (``event``) and in the ``X-Gateway-Event`` header. A background task then
POSTs the document to the tenant's webhook with tenacity retries (exponential backoff with
jitter); every attempt is a row in ``delivery_attempts``, visible in ``GET /v1/documents/{id}``.
Delivery is at-least-once: receivers de-duplicate on ``X-Gateway-Delivery``.

At shutdown the forwarder is told to stop (:func:`gateway.wake.ended`): it takes no new
delivery, an attempt in flight finishes and is recorded, and a delivery waiting out its backoff
leaves at once, still pending, for the next start. Cancelled at once (as it was), an attempt
the receiver had already answered was left pending and sent again after the restart, and a
loop cut inside a statement could leave an aiosqlite close pending at loop close.

Every gateway process on one database runs a forwarder, and each claims a delivery before
each attempt (:mod:`gateway.forwarding.claims`: a lease, renewed before the next attempt so it
covers the backoff, cleared when the delivery ends or given back at a clean stop): only the
process that holds it sends, so a slow receiver or a backoff no longer gets the event from each
process that polled it. Wakes still stay in this process (no PostgreSQL ``NOTIFY`` as the
outbound queue's yet); another process's deliveries are found by the 5 s poll.

A tenant whose forwarding address is ``mailto:ap@tenant.example`` gets each received invoice
by e-mail instead (the XML, its PDF or the gateway's rendering, the other stored files), through
``[email_out]``, with the same rows, retries and ``forwarded`` status; status events are not
mailed. A relay's 4xx retries, a 5xx fails the delivery at once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import Any, Protocol

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
from gateway.forwarding.claims import Claims, NotOurs, claimable
from gateway.forwarding.destinations import webhook_session
from gateway.forwarding.events import (
    RECEIVED_EVENT,
    DeliveryFormat,
    Rendered,
    WebhookEvents,
    is_mail,
    mark_forwarded,
    subscribed,
)
from gateway.forwarding.post import post_signed
from gateway.forwarding.signing import SIGNATURE_HEADER, sign
from gateway.lifecycle import Cause, Lifecycle
from gateway.store import (
    Database,
    DeliveryAttempt,
    Document,
    InboxItem,
    Tenant,
    WebhookDelivery,
    document_summary,
    insert_at_commit,
    repo,
    utcnow,
)
from gateway.wake import ended, woken


class _Stopping(Exception):
    """Raised from a retry's backoff when the forwarder is told to stop."""


log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """One attempt failed (network error or non-2xx answer); tenacity retries it."""


class DeliveryRefused(Exception):
    """Retrying cannot help (a relay's 5xx, a bad address): the delivery fails at once."""


class Mailer(Protocol):
    async def send(
        self,
        *,
        document_id: str,
        raw: bytes,
        to: list[str],
        message_id: str,
        headers: dict[str, str] | None = None,
    ) -> tuple[str, str]: ...


class AttemptObserver(Protocol):
    """Told of every delivery attempt (the app factory plugs the metrics in)."""

    def webhook_attempt(self, kind: str, result: str) -> None: ...


class Forwarder(WebhookEvents):
    def __init__(
        self,
        db: Database,
        settings: WebhookSettings,
        lifecycle: Lifecycle | None = None,
        max_parallel: int = 8,
        mailer: Mailer | None = None,
        observer: AttemptObserver | None = None,
    ) -> None:
        self.db = db
        #: Counts attempts by kind (``http``/``mail``) and result; None = not counted.
        self.observer = observer
        #: Sends received invoices to tenants whose forwarding address is ``mailto:``.
        self.mailer = mailer
        self.settings = settings
        self.lifecycle = lifecycle or Lifecycle()
        #: Leases on the deliveries this process sends (``claims.owner`` names the process).
        self.claims = Claims(db, settings)
        self._wake = asyncio.Event()
        self._work = True  # deliveries left over from a previous run are picked up at start
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(max_parallel)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        #: Event type -> its own format (:meth:`add_format`); others are our JSON events.
        self.formats: dict[str, DeliveryFormat] = {}

    def add_format(self, event: str, render: DeliveryFormat) -> None:
        """Deliver events of type ``event`` in another API's format, through the same rows,
        retries, attempts and metrics as ours."""
        self.formats[event] = render

    # --- called by intake / admin, inside their transaction ---------------------------------

    async def enqueue(self, session: AsyncSession, doc: Document) -> None:
        assert doc.tenant is not None
        # Held to the commit, with the other inbox rows of the transaction: one statement for
        # a group commit's documents. Added to the session, each row was an INSERT of its own
        # on SQLite (the ORM wants its ``seq`` back): 994 of the ~1,900 statements of 1,000
        # documents (bench/ingest.py --validation replay).
        insert_at_commit(session, InboxItem, {"tenant": doc.tenant, "document_id": doc.id})
        tenant = await session.get(Tenant, doc.tenant)
        if tenant is not None and tenant.webhook_url and subscribed(tenant, RECEIVED_EVENT):
            self._work = True
            session.add(
                WebhookDelivery(
                    document_id=doc.id,
                    tenant=doc.tenant,
                    url=tenant.webhook_url,
                    event=RECEIVED_EVENT,
                )
            )

    def wake(self, *, queued: bool = False) -> None:
        """Look for pending deliveries now (only if something was queued since the last look;
        ``queued=True``: the caller wrote a delivery row itself, e.g. a redelivery)."""
        if queued:
            self._work = True
        if self._work:
            self._wake.set()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._http = webhook_session(
            self.settings.timeout, allow_private=self.settings.allow_private_destinations
        )
        self._task = asyncio.create_task(self._run(), name="webhook-forwarder")

    async def stop(self) -> None:
        self._stopping.set()  # told and woken: no new delivery, backoffs end at once
        self._wake.set()
        await ended(self._task)
        await asyncio.gather(*(ended(t) for t in list(self._inflight.values())))
        if self._http is not None:
            await self._http.close()

    async def _backoff(self, seconds: float) -> None:
        """tenacity's sleep between attempts, cut short by :meth:`stop`."""
        if await woken(self._stopping, seconds):
            raise _Stopping

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._dispatch_pending()
            except Exception:  # keep forwarding alive; the next round retries
                log.exception("webhook dispatch failed")
            await woken(self._wake, 5.0)
            self._wake.clear()

    async def _dispatch_pending(self) -> None:
        self._work = False
        async with self.db.read() as s:
            seqs = list(
                await s.scalars(
                    select(WebhookDelivery.seq)
                    .where(claimable(self.claims.owner, utcnow()))
                    .order_by(WebhookDelivery.seq)
                    .limit(200)
                )
            )
        for seq in seqs:
            if seq not in self._inflight and not self._stopping.is_set():
                task = asyncio.create_task(self._deliver(seq), name=f"webhook-{seq}")
                self._inflight[seq] = task
                task.add_done_callback(lambda _t, seq=seq: self._inflight.pop(seq, None))

    # --- one delivery ------------------------------------------------------------------------

    async def _deliver(self, seq: int) -> None:
        async with self.db.read() as s:
            delivery = await s.get(WebhookDelivery, seq)
            if delivery is None or delivery.state != "pending":
                return
            event = delivery.event or RECEIVED_EVENT
            if event in self.formats:
                rendered = await self.formats[event](s, delivery)
            else:
                rendered = await self._render(s, delivery, event)
        if rendered is None:
            await self._finish(seq, "failed", "the event's subscription no longer exists")
            return
        body, signed = rendered.body, rendered.headers
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
            sleep=self._backoff,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number += 1
                    if is_mail(delivery.url):
                        await self._mail(delivery, number, body)
                    else:
                        await self._attempt(delivery, number, body, signed(body), event)
        except _Stopping:  # still pending: the next start delivers it, at once
            await self.claims.give_back(seq)
            return
        except NotOurs:  # another process holds it, or it ended meanwhile
            return
        except DeliveryRefused as exc:
            await self._finish(seq, "failed", str(exc))
            log.warning("e-mail forwarding refused for good", extra={"delivery": seq})
            return
        except RetryError as exc:
            last = exc.last_attempt.exception()
            await self._finish(seq, "failed", str(last))
            log.warning("webhook delivery failed for good", extra={"delivery": seq})
            return
        await self._finish(seq, "delivered", None)

    async def _render(self, s: AsyncSession, delivery: WebhookDelivery, event: str) -> Rendered:
        """Our own event: ``{event, delivery, document, change?, content_base64?}`` signed with
        the tenant's secret (``X-Gateway-Signature``); a mail forwarding sends the raw bytes."""
        doc = await repo.get_document(s, delivery.document_id, None)
        tenant = await s.get(Tenant, delivery.tenant)
        payload: dict[str, Any] = {
            "event": event,
            "delivery": delivery.seq,
            "document": document_summary(doc),
        }
        if delivery.payload is not None:
            payload["change"] = delivery.payload
        raw = b""
        if event == RECEIVED_EVENT or await self._wants_content(s, delivery.tenant):
            raw, _ = await repo.get_raw(s, doc.id, None)
            payload["content_base64"] = base64.b64encode(raw).decode("ascii")
        if is_mail(delivery.url):
            return Rendered(raw, lambda _body: {})
        secret = (tenant.webhook_secret if tenant else None) or ""
        return Rendered(
            json.dumps(payload).encode(), lambda body: {SIGNATURE_HEADER: sign(secret, body)}
        )

    async def _wants_content(self, session: AsyncSession, tenant: str) -> bool:
        """Whether the tenant asked for the document body in every event (default: no)."""
        return bool((await self.lifecycle.settings(session, tenant))["webhook_content"])

    async def _attempt(
        self,
        delivery: WebhookDelivery,
        number: int,
        body: bytes,
        signature: dict[str, str],
        event: str,
    ) -> None:
        assert self._http is not None
        headers = {
            "X-Gateway-Delivery": str(delivery.seq),
            "X-Gateway-Document-Id": delivery.document_id,
            "X-Gateway-Attempt": str(number),
            **signature,
        }
        async with self._limit:  # claimed in the slot: a wait for one must not eat the lease
            await self.claims.hold(delivery.seq)
            result = await post_signed(
                self._http,
                delivery.url,
                body,
                secret=None,
                event=event,
                headers=headers,
                allow_private=self.settings.allow_private_destinations,
            )
        self._observe("http", result.outcome)
        await self._store_attempt(
            delivery.seq, number, result.status, result.error, result.duration_ms
        )
        if result.error:
            raise DeliveryFailed(result.error)

    async def _mail(self, delivery: WebhookDelivery, number: int, raw: bytes) -> None:
        """One e-mail forwarding attempt (XML + PDF); the Message-ID is stable per delivery."""
        from gateway.mail import MailPermanent, MailTransient, mail_addresses

        await self.claims.hold(delivery.seq)
        started = time.perf_counter()
        error: str | None = None
        final = False
        try:
            if self.mailer is None:
                raise MailPermanent("e-mail forwarding needs [email_out]", "no-relay")
            await self.mailer.send(
                document_id=delivery.document_id,
                raw=raw,
                to=mail_addresses(delivery.url),
                message_id=f"forward-{delivery.seq}@einvoice-gateway",
                headers={"X-Gateway-Delivery": str(delivery.seq)},
            )
        except (MailPermanent, ValueError) as exc:
            error, final = str(exc), True
        except MailTransient as exc:
            error = str(exc)
        self._observe("mail", "ok" if error is None else ("refused" if final else "error"))
        duration = (time.perf_counter() - started) * 1000
        await self._store_attempt(delivery.seq, number, None, error, duration)
        if error and final:
            raise DeliveryRefused(error)
        if error:
            raise DeliveryFailed(error)

    def _observe(self, kind: str, result: str) -> None:
        if self.observer is not None:
            self.observer.webhook_attempt(kind, result)

    async def _store_attempt(
        self, seq: int, number: int, status: int | None, error: str | None, duration_ms: float
    ) -> None:
        async with self.db.write() as s:
            s.add(
                DeliveryAttempt(
                    delivery_seq=seq,
                    number=number,
                    http_status=status,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            row = await s.get(WebhookDelivery, seq)
            if row is not None:
                row.attempts = number
                row.last_error = error

    async def _finish(self, seq: int, state: str, error: str | None) -> None:
        async with self.db.write() as s:
            row = await s.get(WebhookDelivery, seq)
            if row is None:
                return
            row.state = state
            row.finished_at = utcnow()
            row.lease_owner = row.lease_until = None
            if error:
                row.last_error = error
            if state == "delivered" and row.event == RECEIVED_EVENT:
                doc = await repo.get_document(s, row.document_id, None)
                cause = Cause("webhook", actor=row.url, tenant=row.tenant)
                await mark_forwarded(self.lifecycle, s, doc, cause)
