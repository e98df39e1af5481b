"""The dashboard: per direction and channel, today / 7 days / 30 days, a chart of 30 days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aiohttp import web

from gateway.console import stats
from gateway.console.guard import viewer
from gateway.console.render import page
from gateway.web import DB

CHART_W, CHART_H, PAD = 640, 160, 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


def chart(daily: list[tuple[str, dict[str, int]]]) -> dict[str, object]:
    """A stacked bar per day (inbound below, outbound above), computed here so the SVG in
    the page is plain shapes with numbers (no script, no inline style)."""
    top = max((sum(v.values()) for _, v in daily), default=0) or 1
    step = (CHART_W - PAD) / max(len(daily), 1)
    usable = CHART_H - PAD
    bars: list[Bar] = []
    for i, (day, counts) in enumerate(daily):
        base = CHART_H - PAD / 2
        for direction in ("inbound", "outbound"):
            n = counts.get(direction, 0)
            if not n:
                continue
            h = usable * n / top
            base -= h
            bars.append(
                Bar(
                    round(PAD + i * step, 1),
                    round(base, 1),
                    round(step * 0.8, 1),
                    round(h, 1),
                    direction,
                    f"{day}: {n} {direction}",
                )
            )
    labels = [
        (round(PAD + i * step, 1), day[5:])
        for i, (day, _) in enumerate(daily)
        if (len(daily) - 1 - i) % 7 == 0
    ]
    return {"bars": bars, "labels": labels, "top": top, "w": CHART_W, "h": CHART_H}


async def show(request: web.Request) -> web.Response:
    v = viewer(request)
    today = dt.datetime.now(dt.UTC).date()
    async with request.config_dict[DB].read() as s:
        board = await stats.dashboard(s, v.tenant, today)
    return page(
        request,
        "dashboard.html",
        {
            "board": board,
            "windows": [w for w, _ in stats.WINDOWS],
            "buckets": stats.BUCKETS,
            "response_states": stats.RESPONSE_STATES,
            "chart": chart(board.daily),
            "total": sum(sum(c.values()) for _, c in board.daily),
        },
    )
