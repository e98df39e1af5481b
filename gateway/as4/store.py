"""Duplicate elimination store: which ebMS MessageIds / SBDH instances we already accepted.

The receiver only needs three awaitables, so the database engineer can back this with a table
(unique on message_id, unique on instance_key) without the AS4 layer knowing about SQL.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol


class SeenStore(Protocol):
    async def seen(self, message_id: str) -> bytes | None:
        """The receipt we returned for ``message_id``, or None if it is new."""
        ...

    async def seen_instance(self, instance_key: str) -> bool:
        """Whether a document with this ``"{sender}|{InstanceIdentifier}"`` was already delivered."""
        ...

    async def remember(self, message_id: str, instance_key: str, receipt: bytes) -> bytes:
        """Record an accepted message; returns the receipt now on record (an earlier one wins)."""
        ...


class MemorySeenStore:
    """In-process store, bounded (oldest entries are forgotten first)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._receipts: OrderedDict[str, bytes] = OrderedDict()
        self._instances: OrderedDict[str, None] = OrderedDict()

    async def seen(self, message_id: str) -> bytes | None:
        return self._receipts.get(message_id)

    async def seen_instance(self, instance_key: str) -> bool:
        return instance_key in self._instances

    async def remember(self, message_id: str, instance_key: str, receipt: bytes) -> bytes:
        stored = self._receipts.setdefault(message_id, receipt)
        self._instances[instance_key] = None
        for table in (self._receipts, self._instances):
            while len(table) > self.max_entries:
                table.popitem(last=False)
        return stored
