"""The one loop that finishes owed work after a crash: the root wires it, features register.

Features never start their own recovery tasks: each registers its :class:`~gateway.owed.Outbox`
with the app's :class:`Sweeps` (``app[OWED].register(outbox, interval)``) and the app factory
runs :meth:`Sweeps.running` as a cleanup context, after the validator pool and the outbound
queue have started (payers validate and queue). At start every outbox gets its recovery pass
(every pending row whose lease ran out), then a sweep every ``interval`` seconds of the rows
older than that (a fresh row belongs to its after-commit task).

At shutdown the loops are told to stop and woken, and leave after the payment in hand
(:func:`gateway.wake.ended`); one still busy after :data:`STOP_TIMEOUT` is cancelled. Cancelled
at once (as they were), a loop could be cut in the middle of a statement: its aiosqlite
connection's graceful close was then left pending when the event loop closed (what hung a CI
teardown for the outbound worker), and the payment in hand was cut after it had sent (the row
stays leased and is paid again after the lease, which a clean stop avoids).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway.owed.outbox import Outbox
from gateway.wake import ended, woken

log = logging.getLogger("gateway.owed")

#: Seconds a loop told to stop has to finish the payment in hand before it is cancelled.
STOP_TIMEOUT = 10.0


class Sweeps:
    def __init__(self) -> None:
        self.outboxes: list[tuple[Outbox[Any], float]] = []

    def register(self, outbox: Outbox[Any], interval: float) -> None:
        self.outboxes.append((outbox, interval))

    async def recover(self) -> int:
        """Every outbox's recovery pass (what a crash left pending); returns how many paid."""
        return sum([await outbox.sweep(0.0) for outbox, _ in self.outboxes])

    async def running(self, _app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(keep_sweeping(o, i, stop), name=f"owed-{o.what}")
            for o, i in self.outboxes
        ]
        yield
        stop.set()  # told and woken: each leaves after the payment in hand
        await asyncio.gather(*(ended(task, STOP_TIMEOUT) for task in tasks))


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
