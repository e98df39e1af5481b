"""The dashboard's figures: date-bounded aggregates that read indexes, not tables.

Documents are counted by direction, channel, status and day over the last 30 days (UTC) in one
statement: a range read of ``ix_documents_tenant_created`` (or ``ix_documents_created`` for
every tenant), which the query-plan test checks. Today and 7 days are sums of those days.
Invoice Responses that need a person (unmatched, conflict, refused, held) are found through
their state index; the sending queue through its (state, next attempt) index.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import (
    DRAFT,
    DUPLICATE,
    FAILED,
    IN_FLIGHT,
    INVALID,
    RECEIVED,
    UNROUTABLE,
)
from gateway.outbound import OutboundItem
from gateway.responses import InvoiceResponseRecord
from gateway.store import Document

WINDOWS = (("today", 1), ("7 days", 7), ("30 days", 30))
#: What the dashboard shows per direction and channel, in this order.
BUCKETS = ("processed", "waiting", "duplicate", "invalid", "failed", "unroutable")
#: Received (or queued) but not processed yet: orange.
WAITING = {"inbound": {RECEIVED}, "outbound": {DRAFT, *IN_FLIGHT}}
#: Responses a person should look at.
RESPONSE_STATES = ("unmatched", "conflict", "refused", "held")


def bucket(direction: str, status: str) -> str:
    """The dashboard column of a document status (everything past intake is processed)."""
    if status in WAITING.get(direction, ()):
        return "waiting"
    if status in (DUPLICATE, INVALID, FAILED, UNROUTABLE):
        return status
    return "processed"


@dataclass
class Dashboard:
    today: dt.date
    #: (direction, channel) -> window name -> bucket -> count
    rows: dict[tuple[str, str], dict[str, dict[str, int]]] = field(default_factory=dict)
    #: day (ISO) -> direction -> count, for the chart (30 days, oldest first)
    daily: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    #: window -> response state -> count
    responses: dict[str, dict[str, int]] = field(default_factory=dict)
    queue_depth: dict[str, int] = field(default_factory=dict)
    oldest_seconds: float = 0.0


def _day(session: AsyncSession, column: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _since(today: dt.date, days: int) -> dt.datetime:
    start = today - dt.timedelta(days=days - 1)
    return dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)


def _window_days(today: dt.date) -> dict[str, set[str]]:
    return {
        name: {(today - dt.timedelta(days=i)).isoformat() for i in range(days)}
        for name, days in WINDOWS
    }


async def dashboard(session: AsyncSession, tenant: str | None, today: dt.date) -> Dashboard:
    since = _since(today, 30)
    out = Dashboard(today)
    windows = _window_days(today)
    day = _day(session, Document.created_at)
    stmt = select(Document.direction, Document.channel, Document.status, day, func.count())
    stmt = stmt.where(Document.created_at >= since)
    if tenant is not None:
        stmt = stmt.where(Document.tenant == tenant)
    stmt = stmt.group_by(Document.direction, Document.channel, Document.status, day)
    daily: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for direction, channel, status, d, count in (await session.execute(stmt)).all():
        cells = out.rows.setdefault(
            (direction, channel), {w: dict.fromkeys(BUCKETS, 0) for w, _ in WINDOWS}
        )
        for name, days in windows.items():
            if str(d) in days:
                cells[name][bucket(direction, status)] += count
        daily[str(d)][direction] += count
    out.rows = dict(sorted(out.rows.items()))
    out.daily = [(day_, dict(daily.get(day_, {}))) for day_ in sorted(windows["30 days"])]
    out.responses = await _responses(session, tenant, since, windows)
    out.queue_depth, out.oldest_seconds = await _queue(session, tenant)
    return out


async def _responses(
    session: AsyncSession, tenant: str | None, since: dt.datetime, windows: dict[str, set[str]]
) -> dict[str, dict[str, int]]:
    r = InvoiceResponseRecord
    day = _day(session, r.created_at)
    stmt = select(r.state, day, func.count()).where(
        r.state.in_(RESPONSE_STATES), r.created_at >= since
    )
    if tenant is not None:
        stmt = stmt.where(r.tenant == tenant)
    out = {name: dict.fromkeys(RESPONSE_STATES, 0) for name, _ in WINDOWS}
    for state, d, count in (await session.execute(stmt.group_by(r.state, day))).all():
        for name, days in windows.items():
            if str(d) in days:
                out[name][state] += count
    return out


async def _queue(session: AsyncSession, tenant: str | None) -> tuple[dict[str, int], float]:
    """Items waiting to be sent by state, and the age of the oldest (any age: a stuck item
    is exactly what the dashboard must show)."""
    q = OutboundItem
    stmt = select(q.state, func.count(), func.min(q.queued_at)).where(q.state.in_(IN_FLIGHT))
    if tenant is not None:
        stmt = stmt.where(q.tenant == tenant)
    depth = dict.fromkeys(IN_FLIGHT, 0)
    oldest: dt.datetime | None = None
    for state, count, first in (await session.execute(stmt.group_by(q.state))).all():
        depth[state] = count
        if first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
            oldest = first if oldest is None else min(oldest, first)
    age = (dt.datetime.now(dt.UTC) - oldest).total_seconds() if oldest else 0.0
    return depth, max(age, 0.0)
