"""The per-day arithmetic of the MLS service levels (the queries run in
tests/as4_integration/test_mls.py between two gateways)."""

from __future__ import annotations

import datetime as dt

from gateway.channels.as4.levels import SEND_WITHIN, _per_day


def test_per_day_counts_within_late_and_missing():
    day = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    pairs = [
        (day, day + dt.timedelta(minutes=3)),
        (day, day + SEND_WITHIN),  # exactly at the limit counts
        (day, day + dt.timedelta(minutes=21)),  # late
        (day, None),  # still waiting
        (day + dt.timedelta(days=1), day + dt.timedelta(days=1, minutes=1)),
    ]
    (first, second) = _per_day(pairs, SEND_WITHIN)
    assert first == {
        "day": "2026-01-05",
        "messages": 4,
        "done": 3,
        "within": 2,
        "share": 0.5,
        "meets_target": False,
    }
    assert (second["day"], second["share"], second["meets_target"]) == ("2026-01-06", 1.0, True)
