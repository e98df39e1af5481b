"""``woken`` keeps a loop cancellable: a cancel that arrives in the same step as the wake-up
still ends the task (``asyncio.wait_for`` on 3.11 swallowed it and the loop ran for ever)."""

from __future__ import annotations

import asyncio

from gateway.wake import woken


async def _loop(event: asyncio.Event, turns: list[int]) -> None:
    while True:  # stops only by being cancelled, like the drafts scheduler
        turns.append(1)
        await woken(event, 30.0)
        event.clear()


async def test_a_cancel_in_the_same_step_as_the_wake_up_ends_the_loop() -> None:
    event = asyncio.Event()
    turns: list[int] = []
    task = asyncio.create_task(_loop(event, turns))
    await asyncio.sleep(0.05)  # asleep in woken()
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert task in done and task.cancelled()
    assert len(turns) == 1


async def test_it_tells_a_wake_up_from_a_timeout() -> None:
    event = asyncio.Event()
    assert await woken(event, 0.01) is False
    event.set()
    assert await woken(event, 10.0) is True
