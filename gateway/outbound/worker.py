"""The delivery loop of one gateway process: claim due items, send them, record outcomes.

One asyncio task per in-flight delivery, at most ``settings.workers`` of them per process.
Outcomes are collected and written in one transaction per loop turn (see queue.finish), and
the loop claims exactly as many items as it has free slots, so a slow receiver or a full
process never hoards leases that another gateway process could be working on.

Idle, it does not poll every ``poll_interval``: each empty turn doubles the wait up to
``idle_poll_max``, and it never sleeps past the earliest retry it can see
(:meth:`OutboundQueue.next_due`). The queue wakes it after every commit that makes work due in
this process (:meth:`OutboundQueue.subscribe`), and on PostgreSQL after such a commit in another
process (``NOTIFY``, :class:`gateway.store.Wakeups`, while the service listens); the bounded
poll is the safety net for a notification lost while the listener reconnects. Why: polling
every 0.5 s was two write transactions a second (``BEGIN IMMEDIATE`` on SQLite) with the drafts
scheduler, ~5 % of a core for a gateway doing nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from gateway.config import OutboundSettings
from gateway.outbound.errors import DeliveryError, TransientError
from gateway.outbound.messages import Endpoint, OutboundMessage
from gateway.outbound.outcomes import Outcome
from gateway.outbound.queue import OutboundQueue
from gateway.outbound.routing import Router
from gateway.outbound.transports import Transports
from gateway.owner import owner_id
from gateway.store import utcnow
from gateway.wake import ended, woken

log = logging.getLogger("gateway.outbound")


class AttemptObserver(Protocol):
    """Told of every delivery attempt: the transport (``unrouted`` when none was found) and
    ``delivered``, ``retry`` (transient error) or ``failed`` (permanent)."""

    def outbound_attempt(self, transport: str, result: str) -> None: ...


class Worker:
    def __init__(
        self,
        queue: OutboundQueue,
        router: Router,
        transports: Transports,
        settings: OutboundSettings,
        owner: str | None = None,
    ) -> None:
        self.queue = queue
        self.router = router
        self.transports = transports
        self.settings = settings
        self.owner = owner or owner_id()
        self.capacity = max(1, settings.workers)
        self._inflight: set[asyncio.Task[None]] = set()
        self._done: list[Outcome] = []
        self._wakeup = asyncio.Event()
        self._idle_wait = settings.poll_interval
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None
        self.delivered = 0
        #: Counts attempts (the app factory plugs the metrics in); None = not counted.
        self.observer: AttemptObserver | None = None
        queue.subscribe(self.notify)

    def notify(self) -> None:
        """New work is due (queued here or in another process): skip the poll wait."""
        self._idle_wait = self.settings.poll_interval
        self._wakeup.set()

    async def _deliver(self, msg: OutboundMessage) -> None:
        started, t0 = utcnow(), time.perf_counter()
        endpoint: Endpoint | None = None
        outcome = Outcome(msg, self.owner, started, 0.0)
        try:
            endpoint = await self.router.resolve(msg)
            outcome.endpoint = endpoint
            outcome.result = await self.transports.get(endpoint.transport).send(msg, endpoint)
        except DeliveryError as exc:
            outcome.error = exc
        except Exception as exc:  # a bug must not kill the loop; retry like a transient error
            log.exception("outbound delivery crashed", extra={"document_id": msg.id})
            outcome.error = TransientError(f"internal error: {exc!r}", "internal-error")
        outcome.duration_ms = (time.perf_counter() - t0) * 1000
        log.info(
            "outbound attempt",
            extra={
                "document_id": msg.id,
                "message_id": msg.message_id,
                "attempt": msg.attempt,
                "receiver": msg.receiver,
                "endpoint": endpoint.url if endpoint else None,
                "outcome": "delivered" if outcome.error is None else outcome.error.code,
                "duration_ms": round(outcome.duration_ms, 1),
            },
        )
        if self.observer is not None:
            result = "delivered" if outcome.error is None else "failed"
            if isinstance(outcome.error, TransientError):
                result = "retry"
            self.observer.outbound_attempt(endpoint.transport if endpoint else "unrouted", result)
        self._done.append(outcome)
        self._wakeup.set()

    async def _flush(self) -> None:
        if not self._done:
            return
        batch, self._done = self._done, []
        try:
            await self.queue.finish(batch)
        except Exception:
            self._done[:0] = batch  # keep them; the next turn tries again
            raise
        self.delivered += sum(1 for o in batch if o.error is None)

    async def turn(self) -> int:
        """One loop turn: record finished attempts, then claim into free slots."""
        await self._flush()
        free = self.capacity - len(self._inflight)
        if free <= 0 or self._stopping:
            return 0
        claimed = await self.queue.claim(self.owner, free)
        for msg in claimed:
            task = asyncio.create_task(self._deliver(msg), name=f"outbound-{msg.id}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(claimed)

    async def run(self) -> None:
        self._runner = asyncio.current_task()
        log.info("outbound worker started", extra={"worker": self.owner, "capacity": self.capacity})
        while not self._stopping:
            self._wakeup.clear()
            wait = self.settings.poll_interval
            try:
                if await self.turn() or self._inflight:
                    self._idle_wait = self.settings.poll_interval
                else:
                    wait = await self._idle()
            except Exception:
                log.exception("outbound queue turn failed; retrying", extra={"worker": self.owner})
            if self._stopping:
                break
            if self._done:
                continue
            await woken(self._wakeup, wait)

    async def _idle(self) -> float:
        """How long to sleep after a turn that found nothing: the backed-off poll interval,
        or less when a retry this process can see falls due sooner."""
        wait = self._idle_wait
        ceiling = max(self.settings.idle_poll_max, self.settings.poll_interval)
        self._idle_wait = min(wait * 2, ceiling)
        due = await self.queue.next_due()
        if due is None:
            return wait
        until = (due - utcnow()).total_seconds()
        if until <= 0:
            # Due already but not claimable (another process holds the receiver's slots): not
            # idle, so poll as before. Backed off to idle_poll_max, a second gateway on the
            # same PostgreSQL database took no share of a receiver's queue (CI, 200 items).
            self._idle_wait = self.settings.poll_interval
            return self.settings.poll_interval
        return min(wait, until)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, let in-flight deliveries finish (up to ``timeout``), record them.

        The loop leaves first (woken and stopping, it leaves after its statement), and only
        then are the deliveries counted: a claim it was making when told to stop starts
        deliveries of its own. Counted before, those ran on unwatched while the transports
        closed, their outcome was never recorded, and each item waited out its lease
        (``lease_seconds``, 60 s) before another process sent it again (CI: a restarted
        gateway's Invoice Response reached its access point after the test's 60 s).
        """
        self._stopping = True
        self._wakeup.set()
        deadline = time.monotonic() + timeout
        await ended(self._runner, timeout)
        if self._inflight:
            left = max(0.0, deadline - time.monotonic())
            _, pending = await asyncio.wait(set(self._inflight), timeout=left)
            for task in pending:
                task.cancel()  # their leases expire and another worker re-sends them
        with contextlib.suppress(Exception):
            await self._flush()

    async def drain(self, timeout: float = 60.0) -> None:
        """Work until nothing is due or in flight (CLI ``send --wait``, tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed = await self.turn()
            if not claimed and not self._inflight and not self._done:
                return
            if self._inflight:
                await asyncio.wait(
                    set(self._inflight),
                    timeout=self.settings.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
        raise TimeoutError("outbound queue did not drain in time")
