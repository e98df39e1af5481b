"""The columns every owed-work table shares (a mixin for a feature's own table).

A feature keeps what it owes in a table of its own (its own columns say *what* is owed: a CDAR
code, an Invoice Response's status); these columns say *where the debt stands*, and they are
all :class:`gateway.owed.Outbox` reads or writes. The feature's migration creates them with
its table and an index on ``(state, created_at)`` (the sweep's lookup).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import utcnow

PENDING, DONE, FAILED = "pending", "done", "failed"


class OwedColumns:
    #: The debt's identity, chosen by the feature: it is also what the messages' ids and
    #: idempotency keys derive from, so paying a debt twice builds the same messages.
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: pending -> done (paid) | failed (given up after the outbox's ``max_attempts``).
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    #: How often a worker took the row (each claim counts, a crash's included).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: While set in the future, one worker (task, sweep, process) is paying this row.
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
