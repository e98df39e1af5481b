"""A small TTL cache with single-flight loading.

Why single-flight: when a queue of 500 invoices to one new receiver starts draining, every
worker would otherwise ask the SML and SMP at the same moment; one lookup is enough.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._data: dict[Hashable, tuple[float, V]] = {}
        self._inflight: dict[Hashable, asyncio.Future[V]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        entry = self._data.get(key)
        if entry and entry[0] > self.clock():
            return entry[1]
        self._data.pop(key, None)
        return None

    def put(self, key: Hashable, value: V) -> None:
        if len(self._data) >= self.max_entries:
            now = self.clock()
            self._data = {k: e for k, e in self._data.items() if e[0] > now}
            while len(self._data) >= self.max_entries:
                self._data.pop(next(iter(self._data)))
        self._data[key] = (self.clock() + self.ttl, value)

    def invalidate(self, key: Hashable | None = None) -> None:
        if key is None:
            self._data.clear()
        else:
            self._data.pop(key, None)

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        cached = self.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        self.misses += 1
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        else:
            future.set_result(value)
            self.put(key, value)
            return value
        finally:
            self._inflight.pop(key, None)
