"""A short-lived cache of verified API keys.

Why: every request would otherwise cost a database round trip just to re-check the same key;
under load that is a large share of the work. Entries live ``ttl`` seconds (default 5), which
bounds how long a revoked key keeps working in a running server.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any


class KeyCache:
    def __init__(self, ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}

    @staticmethod
    def _slot(presented: str) -> str:
        return hashlib.sha256(presented.encode()).hexdigest()  # never keep the key itself

    def get(self, presented: str) -> Any | None:
        slot = self._slot(presented)
        entry = self._entries.get(slot)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(slot, None)
            return None
        return entry[1]

    def put(self, presented: str, value: Any) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[self._slot(presented)] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
