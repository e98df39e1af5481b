"""Outbound queue benchmark: drain rate (msgs/s) to a loopback HTTP receiver, and end-to-end
latency (enqueue -> receiver acknowledged, p50/p99) at a steady submission rate.

    python -m bench.outbound [--messages 3000] [--workers 32] [--rate 200] [--database-url URL]
    python -m bench.outbound --as4 [--messages 600] [--rate 100]

``--as4``: the queue's ``as4`` transport (SBDH, signed + encrypted UserMessage, receipt
verified, the ``as4_outbound`` row and the Peppol reporting row written per message) to a
``gateway.as4`` receiver (memory duplicate store, no intake) in the other process; our CPU
per message is printed (on a 2-core box the receiver shares the cores: its CPU per message is
what ``bench/as4.py --only send`` prints as the peer's).

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
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.config import load_settings
from gateway.outbound import (
    HttpTransport,
    OutboundItem,
    OutboundQueue,
    OutboundService,
    Transports,
    as4_transport,
)
from gateway.store import (
    Database,
    Document,
    new_document_id,
    upgrade,
)

ROOT = Path(__file__).resolve().parents[1]

INVOICE = ROOT.parent / "shared" / "corpus" / "peppol-bis-examples" / "base-example.xml"
#: What the queue item names for the SBDH (``--as4``), scheme first as POST /v1/outbound stores it.
DOCTYPE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
PROCESS = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


def _as4_receiver(port_queue: mp.Queue, pem: Path) -> None:  # type: ignore[type-arg]
    """A receiving access point on ``gateway.as4``: verifies, decrypts, signs a receipt."""
    from aiohttp import web

    from gateway.as4 import (
        As4Limits,
        As4Receiver,
        Identity,
        MemorySeenStore,
        TrustStore,
        as4_handler,
    )

    async def accept(document: bytes, meta: object) -> None:
        return None

    async def main() -> None:
        identity = Identity.from_files("", str(pem / "peer.crt"), str(pem / "peer.key"))
        trust = TrustStore.from_files([str(pem / "root.crt")], [str(pem / "ca.crt")])
        receiver = As4Receiver(identity, trust, As4Limits(), MemorySeenStore(), accept)
        app = web.Application(client_max_size=receiver.limits.max_message_bytes)
        app.router.add_post("/as4", as4_handler(receiver))
        await _serve_forever(app, port_queue)

    asyncio.run(main())


def _receiver(port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/inbox", handle)
        await _serve_forever(app, port_queue)

    asyncio.run(main())


async def _serve_forever(app: Any, port_queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Serve ``app`` on a free loopback port, tell the parent which, and never return."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.Event().wait()


async def enqueue(queue: OutboundQueue, raw: bytes, n: int, as4: bool = False) -> None:
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
    kinds = {"document_type": DOCTYPE, "process": PROCESS} if as4 else {}
    await queue.enqueue(doc, receiver="0002:fr23342", sender="0088:bench", **kinds)


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


async def run(args: argparse.Namespace, url: str, pem: Path | None = None) -> None:
    tmp = tempfile.mkdtemp(prefix="gw-bench-")
    route = {"participant": "0002:*", "url": url}
    as4 = {}
    if pem:
        route |= {"transport": "as4", "certificate": str(pem / "peer.crt")}
        as4 = {
            "cert_file": str(pem / "ours.crt"),
            "key_file": str(pem / "ours.key"),
            "trust_anchors": [str(pem / "root.crt")],
            "intermediates": [str(pem / "ca.crt")],
            "revocation": "off",
        }
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
            "routes": [route],
            "as4": as4,
            "log": {"level": "WARNING"},
        },
    )
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    transport = as4_transport(settings, db) if pem else HttpTransport(10, limit=args.workers)
    transports = Transports([transport])
    service = OutboundService(settings, db, None, transports)  # the queue and worker it wires
    queue, worker = service.queue, service.worker
    raw = INVOICE.read_bytes()

    # Phase 1: drain a pre-filled queue.
    for i in range(args.messages):
        await enqueue(queue, raw, i, as4=pem is not None)
    t0, cpu = time.perf_counter(), time.process_time()
    await worker.drain(timeout=600)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu
    stats = await queue.stats()
    assert stats.depth["delivered"] == args.messages, stats.depth
    print(
        f"drain: {args.messages} msgs in {elapsed:.2f} s = {args.messages / elapsed:.0f} msgs/s "
        f"(workers={args.workers}, db={db.engine.dialect.name}, "
        f"transport={transport.name}); our CPU {1000 * cpu / args.messages:.2f} ms/msg"
    )

    # Phase 2: steady submission at --rate msgs/s with the worker running; e2e latency.
    async with db.write() as s:
        await s.execute(OutboundItem.__table__.delete())
    task = asyncio.create_task(worker.run())
    n2 = args.rate * args.seconds
    start = time.perf_counter()
    for i in range(n2):
        await enqueue(queue, raw, args.messages + i, as4=pem is not None)
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
    parser.add_argument("--as4", action="store_true", help="send over AS4 (see above)")
    args = parser.parse_args()
    pem = None
    if args.as4:
        from tests.as4.as4_pki import make_pki

        pem = Path(tempfile.mkdtemp(prefix="gw-bench-pki-"))
        make_pki().write_pem(pem, ("root", "ca", "ours", "peer"))
    ports: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    target, extra = (_as4_receiver, (pem,)) if pem else (_receiver, ())
    proc = mp.Process(target=target, args=(ports, *extra), daemon=True)
    proc.start()
    try:
        path = "/as4" if pem else "/inbox"
        url = f"http://127.0.0.1:{ports.get(timeout=30)}{path}"
        asyncio.run(run(args, url, pem))
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
