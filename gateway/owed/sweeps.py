"""The one loop that finishes owed work after a crash: the root wires it, features register.

Features never start their own recovery tasks: each registers its :class:`~gateway.owed.Outbox`
with the app's :class:`Sweeps` (``app[OWED].register(outbox, interval)``) and the app factory
runs :meth:`Sweeps.running` as a cleanup context, after the validator pool and the outbound
queue have started (payers validate and queue). At start every outbox gets its recovery pass
(every pending row whose lease ran out), then a sweep every ``interval`` seconds of the rows
older than that (a fresh row belongs to its after-commit task).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway.owed.outbox import Outbox

log = logging.getLogger("gateway.owed")


class Sweeps:
    def __init__(self) -> None:
        self.outboxes: list[tuple[Outbox[Any], float]] = []

    def register(self, outbox: Outbox[Any], interval: float) -> None:
        self.outboxes.append((outbox, interval))

    async def recover(self) -> int:
        """Every outbox's recovery pass (what a crash left pending); returns how many paid."""
        return sum([await outbox.sweep(0.0) for outbox, _ in self.outboxes])

    async def running(self, _app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(keep_sweeping(o, i)) for o, i in self.outboxes]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def keep_sweeping(outbox: Outbox[Any], interval: float) -> None:
    """The recovery pass at start (every pending row), then a sweep every ``interval``
    seconds of the rows older than that."""
    older_than = 0.0
    while True:
        try:
            await outbox.sweep(older_than)
        except Exception:
            log.exception("%s sweep failed", outbox.what)
        older_than = interval
        await asyncio.sleep(interval)


#: The app's sweeps (set by the app factory; features register their outboxes with it).
OWED = web.AppKey("owed_sweeps", Sweeps)
