"""Prometheus gauges of the MLS service levels (the figures of ``/v1/admin/mls/service-levels``).

The Network Policy's levels are shares over time (99.5 % of MLS sent within 20 minutes of the
receipt, received within 25 minutes of ours), so the gauges cover the last 24 hours: how many
messages needed an MLS, how many got it within the limit, the share, how many still wait and
for how long the oldest has. They are database figures, so they come from a
:class:`~gateway.observability.Snapshot` refreshed in the background at most every
``[metrics] snapshot_seconds`` - a scrape never runs the queries (see
:mod:`gateway.observability.metrics` for why).

``direction`` is ``send`` (we are the receiving AP, C3, and owe the MLS) or ``receive`` (we
sent the document, C2, and wait for the receiver's MLS).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from gateway.channels.as4.levels import RECEIVE_WITHIN, SEND_WITHIN, TARGET, service_levels
from gateway.observability import Snapshot
from gateway.store import Database

WINDOW = dt.timedelta(hours=24)
LIMITS = {"send": SEND_WITHIN, "receive": RECEIVE_WITHIN}


@dataclass
class Level:
    messages: int = 0
    within: int = 0
    waiting: int = 0
    oldest_waiting_seconds: float = 0.0


@dataclass
class LevelRows:
    levels: dict[str, Level] = field(default_factory=dict)
    taken_at: float = 0.0


def summarise(figures: dict[str, Any]) -> dict[str, Level]:
    """The window's totals from :func:`service_levels` (per day, and the waiting lists)."""
    out = {}
    for direction, days, waiting in (
        ("send", figures["sent"], figures["waiting_to_send"]),
        ("receive", figures["received"], figures["waiting_to_receive"]),
    ):
        messages = sum(d["messages"] for d in days)
        done = sum(d["done"] for d in days)
        oldest = max((w["minutes"] for w in waiting), default=0.0) * 60
        out[direction] = Level(messages, sum(d["within"] for d in days), messages - done, oldest)
    return out


class MlsLevels(Snapshot):
    """Gauges ``gateway_mls_*`` from the last :class:`LevelRows`."""

    def __init__(self, db: Database, max_age: float) -> None:
        super().__init__(max_age)
        self.loader = self._read  # type: ignore[assignment]
        self.db = db

    async def _read(self) -> LevelRows:
        since = dt.datetime.now(dt.UTC) - WINDOW
        return LevelRows(summarise(await service_levels(self.db, since)))

    def collect(self) -> Iterable[GaugeMetricFamily]:
        rows: Any = self.rows
        if rows is None:
            return
        gauges = {
            "messages": "Messages of the last 24 h that need an MLS, by direction (snapshot).",
            "within": "Of those, MLS sent (send) / received (receive) within the limit.",
            "share": "within / messages (absent without messages); the target is 0.995.",
            "waiting": "Messages of the last 24 h still waiting for their MLS.",
            "oldest_waiting_seconds": "How long the oldest of those has waited.",
        }
        families = {
            name: GaugeMetricFamily(f"gateway_mls_{name}", text, labels=["direction"])
            for name, text in gauges.items()
        }
        for direction, level in rows.levels.items():
            families["messages"].add_metric([direction], level.messages)
            families["within"].add_metric([direction], level.within)
            if level.messages:
                families["share"].add_metric([direction], level.within / level.messages)
            families["waiting"].add_metric([direction], level.waiting)
            families["oldest_waiting_seconds"].add_metric([direction], level.oldest_waiting_seconds)
        yield from families.values()
        limit = GaugeMetricFamily(
            "gateway_mls_limit_seconds", "The Network Policy's limit.", labels=["direction"]
        )
        for direction, within in LIMITS.items():
            limit.add_metric([direction], within.total_seconds())
        yield limit
        yield GaugeMetricFamily("gateway_mls_target_share", "The target share.", value=TARGET)
        yield GaugeMetricFamily(
            "gateway_mls_snapshot_age_seconds",
            "Seconds since the MLS figures were read.",
            value=time.monotonic() - rows.taken_at,
        )
