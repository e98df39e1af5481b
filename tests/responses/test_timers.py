"""Stopping the Invoice Response timers and follower (on a real gateway's response service):
told to stop, the round in hand finishes and the sleep between rounds ends at once. Cancelled
(as they were), a round was cut in the middle: inside a statement, that can leave an aiosqlite
close pending at loop close (what hung a CI teardown for the outbound worker)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gateway.responses import RESPONSES
from gateway.responses.follow import ResponseFollower
from gateway.responses.timers import Timers
from gateway.web import LIFECYCLE


def _slow(events: list[str], real: Any) -> Any:
    async def job(*args: Any) -> Any:
        events.append("started")
        await asyncio.sleep(0.3)
        result = await real(*args)
        events.append("finished")
        return result

    return job


async def test_a_timer_round_in_hand_finishes_when_told_to_stop(gw_factory: Any) -> None:
    gw = await gw_factory()
    service = gw.app[RESPONSES]
    events: list[str] = []
    service.sweep = _slow(events, service.sweep)
    timers = Timers(service, rematch_interval=3600, overdue=False, overdue_interval=0)
    timers.start()
    await asyncio.sleep(0.1)  # the first round is under way
    await timers.stop()
    assert events == ["started", "finished"]


async def test_a_timer_between_rounds_stops_at_once(gw_factory: Any) -> None:
    gw = await gw_factory()
    service = gw.app[RESPONSES]
    timers = Timers(service, rematch_interval=3600, overdue=False, overdue_interval=0)
    timers.start()
    await asyncio.sleep(0.3)  # the first round is done; the hour's sleep runs
    started = time.monotonic()
    await timers.stop()
    assert time.monotonic() - started < 1.0


async def test_the_follower_finishes_the_invoice_in_hand_when_told_to_stop(
    gw_factory: Any,
) -> None:
    gw = await gw_factory()
    follower = ResponseFollower(gw.app[RESPONSES], gw.app[LIFECYCLE])
    events: list[str] = []
    follower.rematch_invoice = _slow(events, follower.rematch_invoice)
    follower.start()
    await asyncio.sleep(0.2)  # the start-up sweep is done
    follower._invoice_settled("no-such-document")
    await asyncio.sleep(0.1)  # re-matching it
    await follower.stop()
    assert events == ["started", "finished"]
