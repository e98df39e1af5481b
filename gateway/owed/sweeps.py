"""The one loop that finishes owed work after a crash: the root wires it, features register.

Features never start their own recovery tasks: each registers its :class:`~gateway.owed.Outbox`
with the app's :class:`Sweeps` (``app[OWED].register(outbox, interval)``) and the app factory
runs :meth:`Sweeps.running` as a cleanup context, after the validator pool and the outbound
queue have started (payers validate and queue). At start every outbox gets its recovery pass
(every pending row whose lease ran out), then a sweep every ``interval`` seconds of the rows
older than that (a fresh row belongs to its after-commit task).

At shutdown the loops are told to stop and woken, and leave after the payment in hand
(:func:`gateway.wake.ended`); one still busy after :data:`gateway.wake.STOP_TIMEOUT` is cancelled. Cancelled
at once (as they were), a loop could be cut in the middle of a statement: its aiosqlite
connection's graceful close was then left pending when the event loop closed (what hung a CI
teardown for the outbound worker), and the payment in hand was cut after it had sent (the row
stays leased and is paid again after the lease, which a clean stop avoids).

What the payers pay through is closed after the loops ended, not before: a feature whose
payments go out over something it owns (the AS4 channel's sender, which MLS go out over)
hands its close to :meth:`Sweeps.close_after` instead of a cleanup context of its own. As one
(registered after this one, so run before it) the AS4 channel was closed while a sweep could
still be paying over it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.owed.outbox import Outbox
from gateway.wake import ended, woken

log = logging.getLogger("gateway.owed")


class Sweeps:
    def __init__(self) -> None:
        self.outboxes: list[tuple[Outbox[Any], float]] = []
        self.closers: list[Callable[[], Awaitable[None]]] = []

    def register(self, outbox: Outbox[Any], interval: float) -> None:
        self.outboxes.append((outbox, interval))

    def close_after(self, aclose: Callable[[], Awaitable[None]]) -> None:
        """Run ``aclose`` at shutdown once every loop has ended (in reverse order of calls)."""
        self.closers.append(aclose)

    async def recover(self) -> int:
        """Every outbox's recovery pass (what a crash left pending); returns how many paid."""
        return sum([await outbox.sweep(0.0) for outbox, _ in self.outboxes])

    async def running(self, _app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(keep_sweeping(o, i, stop), name=f"owed-{o.what}")
            for o, i in self.outboxes
        ]
        try:
            yield
            stop.set()  # told and woken: each leaves after the payment in hand
            await asyncio.gather(*(ended(task) for task in tasks))
        finally:
            for aclose in reversed(self.closers):
                await aclose()


async def keep_sweeping(
    outbox: Outbox[Any], interval: float, stop: asyncio.Event | None = None
) -> None:
    """The recovery pass at start (every pending row), then a sweep every ``interval``
    seconds of the rows older than that, until ``stop`` is set."""
    stop = stop or asyncio.Event()
    older_than = 0.0
    while not stop.is_set():
        try:
            await outbox.sweep(older_than, until=stop)
        except Exception:
            log.exception("%s sweep failed", outbox.what)
        older_than = interval
        await woken(stop, interval)


#: The app's sweeps (set by the app factory; features register their outboxes with it).
OWED = web.AppKey("owed_sweeps", Sweeps)
