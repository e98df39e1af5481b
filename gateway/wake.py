"""Sleep until woken or a time has passed, and stay cancellable while doing it.

Why: the background loops (drafts scheduler, webhook forwarder, folder channel) slept with
``asyncio.wait_for(event.wait(), t)``. On Python 3.11 ``wait_for`` returns the inner result
when the task is cancelled in the same loop step that the event is set, swallowing the
cancellation (CPython gh-86296, fixed in 3.12). A loop that stops only by being cancelled
(``while True``) then runs on, and whoever awaited it after ``cancel()`` waits for ever: a CI
run hung for 75 minutes in ``service.aclose()`` right after a draft woke the scheduler.
``asyncio.timeout`` awaits the event's own future, so a cancellation is always delivered.
"""

from __future__ import annotations

import asyncio
import contextlib


async def woken(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds: True if it was set, False on time.
    A cancellation is never swallowed, even one that arrives as the event is set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


#: Seconds a loop told to stop has to finish what it has in hand before it is cancelled.
STOP_TIMEOUT = 10.0


async def ended(task: asyncio.Task[None] | None, timeout: float = STOP_TIMEOUT) -> None:
    """Wait for a loop that was told to stop to leave by itself; cancel it only if it has not
    within ``timeout``.

    Why: a loop cancelled in the middle of a statement leaves its aiosqlite connection
    invalidated, and SQLAlchemy's graceful close of it was still pending when the event loop
    closed (3 of 12 runs of the busy-receiver worker test left a pending
    ``_terminate_graceful_close`` task; in CI one such teardown hung until pytest-timeout's
    600 s). Told to stop and woken, the loop finishes its statement and leaves.
    """
    if task is None or task.done() or task is asyncio.current_task():
        return
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
