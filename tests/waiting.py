"""One way for a test to wait for something: :func:`until` (and :func:`until_value`, for a
value fetched again and again until it is the one wanted)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def until(
    check: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "the condition",
    interval: float = 0.05,
    *,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Call ``check()`` (sync or async) every ``interval`` seconds until it gives a truthy
    value, and return that value. After ``timeout`` seconds (a monotonic deadline, not a
    count of sleeps) raise AssertionError naming ``what`` and the timeout, followed by
    ``detail()`` when given (say, the tail of a child process's stderr)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:g} s waiting for {what}"
            if detail is not None:
                message += ":\n" + detail()
            raise AssertionError(message)
        await asyncio.sleep(interval)


async def until_value(
    fetch: Callable[[], Any],
    accept: Callable[[Any], Any],
    timeout: float = 10.0,
    what: str = "the value",
    interval: float = 0.05,
    *,
    show: Callable[[Any], str] = repr,
) -> Any:
    """:func:`until` ``accept(fetch())``, and return the fetched value that was accepted. On
    timeout the message ends with ``show()`` of the last value fetched (say, a document's
    status), so a test that never sees the state it wants says which one it saw."""
    seen: list[Any] = []

    async def accepted() -> bool:
        value = fetch()
        if inspect.isawaitable(value):
            value = await value
        seen[:] = [value]
        return bool(accept(value))

    def last() -> str:
        return "last seen: " + show(seen[0]) if seen else "nothing fetched"

    await until(accepted, timeout, what, interval, detail=last)
    return seen[0]
