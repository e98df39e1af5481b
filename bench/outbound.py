"""Outbound queue benchmark: drain rate (msgs/s) to a loopback HTTP receiver, and end-to-end
latency (enqueue -> receiver acknowledged, p50/p99) at a steady submission rate.

    python bench/outbound.py [--messages 3000] [--workers 32] [--rate 200] [--database-url URL]

The receiver runs in its own process (like a real remote access point); the gateway side is
one process: queue in SQLite (default, a temp dir) or PostgreSQL (--database-url).
Validation is not part of this number (see the validation benchmark); documents are queued
exactly as POST /v1/outbound stores them after validation.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from gateway.config import load_settings  # noqa: E402
from gateway.outbound import (  # noqa: E402
    HttpTransport,
    OutboundItem,
    OutboundQueue,
    OutboundService,
    Transports,
)
from gateway.store import (  # noqa: E402
    Database,
    Document,
    new_document_id,
    upgrade,
)

INVOICE = ROOT.parent / "shared" / "corpus" / "peppol-bis-examples" / "base-example.xml"


def _receiver(port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/inbox", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def enqueue(queue: OutboundQueue, raw: bytes, n: int) -> None:
    doc = Document(
        id=new_document_id(),
        direction="outbound",
        channel="bench",
        tenant="bench",
        status="queued",
        raw=raw,
        sha256=hashlib.sha256(raw + str(n).encode()).hexdigest(),
        size=len(raw),
        validation_status="accepted",
        report={},
        meta={},
    )
    await queue.enqueue(doc, receiver="0002:fr23342", sender="0088:bench")


async def delivered_latencies(db: Database) -> list[float]:
    async with db.read() as s:
        rows = (
            await s.execute(
                select(OutboundItem.created_at, OutboundItem.delivered_at).where(
                    OutboundItem.state == "delivered"
                )
            )
        ).all()
    return [(d - c).total_seconds() * 1000 for c, d in rows]  # both naive on SQLite, aware on PG


async def run(args: argparse.Namespace, url: str) -> None:
    tmp = tempfile.mkdtemp(prefix="gw-bench-")
    settings = load_settings(
        env={},
        overrides={
            "data_dir": tmp,
            "database_url": args.database_url,
            "outbound": {
                "workers": args.workers,
                "per_receiver_concurrency": args.workers,
                "poll_interval": 0.2,
                "request_timeout": 10.0,
            },
            "routes": [{"participant": "0002:*", "url": url}],
            "log": {"level": "WARNING"},
        },
    )
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    transports = Transports([HttpTransport(timeout=10, limit=args.workers)])
    service = OutboundService(settings, db, None, transports)  # the queue and worker it wires
    queue, worker = service.queue, service.worker
    raw = INVOICE.read_bytes()

    # Phase 1: drain a pre-filled queue.
    for i in range(args.messages):
        await enqueue(queue, raw, i)
    t0 = time.perf_counter()
    await worker.drain(timeout=600)
    elapsed = time.perf_counter() - t0
    stats = await queue.stats()
    assert stats.depth["delivered"] == args.messages, stats.depth
    print(
        f"drain: {args.messages} msgs in {elapsed:.2f} s = {args.messages / elapsed:.0f} msgs/s "
        f"(workers={args.workers}, db={db.engine.dialect.name})"
    )

    # Phase 2: steady submission at --rate msgs/s with the worker running; e2e latency.
    async with db.write() as s:
        await s.execute(OutboundItem.__table__.delete())
    task = asyncio.create_task(worker.run())
    n2 = args.rate * args.seconds
    start = time.perf_counter()
    for i in range(n2):
        await enqueue(queue, raw, args.messages + i)
        worker.notify()
        delay = start + (i + 1) / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    while (await queue.stats()).depth["delivered"] < n2:
        await asyncio.sleep(0.1)
    await worker.stop()
    task.cancel()
    lat = sorted(await delivered_latencies(db))
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(
        f"latency at {args.rate} msgs/s for {args.seconds} s: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (enqueue -> receiver 2xx, {len(lat)} msgs)"
    )
    await transports.aclose()
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--rate", type=int, default=200, help="phase 2 submissions per second")
    parser.add_argument("--seconds", type=int, default=5, help="phase 2 duration")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    ports: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    proc = mp.Process(target=_receiver, args=(ports,), daemon=True)
    proc.start()
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=10)}/inbox"
        asyncio.run(run(args, url))
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
