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


async def woken(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds: True if it was set, False on time.
    A cancellation is never swallowed, even one that arrives as the event is set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
