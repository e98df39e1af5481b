"""``/health/live`` and ``/health`` (readiness): what a load balancer and an operator need.

Why two: liveness answers "is the process able to answer at all" (restart it if not);
readiness answers "should documents be sent here now". Issue 14 found ``/health`` saying ok
while both validation workers were pinned by hostile documents, and while they were starting
or dead. Readiness is now 503 when

- the database does not answer;
- no validation worker is ready (all ``starting`` or ``dead``; a lazy pool that has not
  needed one yet is ready), or every worker has been busy
  with one document for longer than ``PINNED_SECONDS`` while documents wait;
- the outbound queue's oldest due item has waited longer than ``OUTBOUND_STUCK_SECONDS``.

The body also says whether the store's lookup indexes are still being read after the start
(``store.indexes``: ``reading`` / ``read``; see :mod:`gateway.store.warm`): on a 10M-document
PostgreSQL store that walk of 30M index entries takes seconds of the database's CPU, so a
benchmark (``bench/ingest.py``) waits for it before it measures. It does not change readiness.

The body always lists every worker (state, for how long, documents, resident MiB), the
validation queue (length, oldest wait) and the outbound queue's oldest due age, so the
answer says *why* it is not ready.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from sqlalchemy import text

from gateway.outbound import OUTBOUND
from gateway.web import DB, INTAKE, operation

STARTED_AT = web.AppKey("started_at", float)
#: The inbound channels the app factory built (gateway.channels); each reports its health.
CHANNELS = web.AppKey("channels", list)


class Warming:
    """The background read of the store's indexes after the start (the app's lifecycle sets
    ``task``; the app is frozen by then, so the key holds this, not the task)."""

    task: asyncio.Task[None] | None = None


WARMING = web.AppKey("store_warming", Warming)
PINNED_SECONDS = 30.0
OUTBOUND_STUCK_SECONDS = 600.0


def setup(app: web.Application) -> None:
    app[STARTED_AT] = time.time()
    app[WARMING] = Warming()
    app.router.add_get("/health", ready)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/health/live", live)


@operation(
    "Liveness: the process answers (200)",
    tag="system",
    responses={200: {"type": "object"}},
)
async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive", "uptime_seconds": _uptime(request)})


@operation(
    "Readiness: database, validator workers (starting/busy/dead), outbound queue age "
    "(200 ok, 503 degraded)",
    tag="system",
    responses={200: {"type": "object"}, 503: {"type": "object"}},
)
async def ready(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with request.app[DB].read() as s:
            await s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not raise: health must always answer
        checks["database"] = f"error: {type(exc).__name__}"
    validation = _validator_health(request.app[INTAKE].validator)
    checks["validator"] = validation.pop("check")
    outbound: dict[str, Any] = {}
    if OUTBOUND in request.app:
        try:
            age = await request.app[OUTBOUND].queue.oldest_due_age()
            outbound["oldest_due_seconds"] = round(age, 1)
            checks["outbound"] = (
                "ok" if age <= OUTBOUND_STUCK_SECONDS else f"stuck: oldest due item {age:.0f} s"
            )
        except Exception as exc:
            checks["outbound"] = f"error: {type(exc).__name__}"
    channels = {c.name: c.health() for c in request.app.get(CHANNELS, [])}
    healthy = all(v == "ok" for v in (*checks.values(), *channels.values()))
    return web.json_response(
        {
            "status": "ok" if healthy else "degraded",
            "checks": checks,
            "channels": channels,
            "validation": validation,
            "outbound": outbound,
            "store": {"indexes": _indexes(request)},
            "uptime_seconds": _uptime(request),
        },
        status=200 if healthy else 503,
    )


def _validator_health(validator: Any) -> dict[str, Any]:
    report = getattr(validator, "health", None)
    if report is None:  # the placeholder until the pool has started
        return {"check": "starting"}
    info: dict[str, Any] = dict(report())
    workers = info.get("workers", [])
    if info.get("mode") != "processes":
        info["check"] = "ok"
        return info
    ready = [w for w in workers if w["state"] in ("idle", "busy")]
    if not workers and info.get("lazy"):
        info["check"] = "ok"  # none started yet: the first document starts one
    elif not ready:
        states = sorted({w["state"] for w in workers})
        info["check"] = f"no worker ready ({', '.join(states) or 'none'})"
    elif (
        all(w["state"] == "busy" and w["for_seconds"] > PINNED_SECONDS for w in ready)
        and info.get("queued", 0) > 0
    ):
        info["check"] = (
            f"pinned: every worker busy > {PINNED_SECONDS:.0f} s, {info['queued']} waiting"
        )
    else:
        info["check"] = "ok"
    return info


def _indexes(request: web.Request) -> str:
    task = request.app[WARMING].task
    return "reading" if task is not None and not task.done() else "read"


def _uptime(request: web.Request) -> float:
    return round(time.time() - request.app[STARTED_AT], 1)
