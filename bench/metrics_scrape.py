"""REST latency while /metrics is scraped 25 times a second (issue 14 item 5).

    python -m bench.metrics_scrape [--documents 17000] [--seconds 15] [--rate 25]

Fills a SQLite store with ``--documents`` documents through the real intake
(gateway.inbound.fill), serves it on loopback and measures ``GET /v1/documents/{id}`` latency
(4 concurrent clients) in three kinds of run, interleaved over ``--rounds`` rounds in one
process, and counts the database aggregates each kind ran:

- ``no scrapes``: the reference;
- ``scan per scrape``: ``metrics.snapshot_seconds = 0``, so every scrape starts the database
  aggregate (documents by status, deliveries, queue) - the cost the old /metrics paid;
- ``snapshot``: the default (aggregates at most every 15 s, scrapes render memory).

The machine may be shared: compare the rows of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


class _NoValidator:
    async def validate(self, raw: bytes, scenario: str | None = None) -> Any:
        raise RuntimeError("this benchmark only reads")


async def _prefill(work: Path, count: int) -> None:
    from gateway.artefacts import install_artefacts
    from gateway.config import load_settings
    from gateway.inbound import fill_store
    from gateway.store import Database, upgrade
    from gateway.validation import Validator

    install_artefacts(str(SHARED / "artefacts"), work / "artefacts")
    db = Database.from_settings(load_settings(env={}, overrides={"data_dir": str(work)}))
    await upgrade(db.engine)
    validator = Validator(work / "artefacts", jobs=0)
    paths = sorted((SHARED / "corpus" / "xrechnung-testsuite").rglob("*.xml"))[:20]
    templates = [(p.read_bytes(), await validator.validate(p.read_bytes())) for p in paths]
    validator.close()
    await fill_store(db, templates, count, tenant="bench")
    await db.dispose()


async def _measure(
    work: Path, snapshot_seconds: float, rate: float, seconds: float
) -> tuple[list[float], int]:
    from gateway.config import load_settings
    from gateway.server import create_app
    from gateway.store import Document, repo
    from gateway.web import DB

    settings = load_settings(
        env={},
        overrides={"data_dir": str(work), "metrics": {"snapshot_seconds": snapshot_seconds}},
    )
    app = create_app(settings, validator=_NoValidator())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    from sqlalchemy import select

    async with app[DB].write() as s:
        _, key = await repo.create_api_key(s, "bench", ["read"])
    async with app[DB].read() as s:
        ids = list(await s.scalars(select(Document.id).limit(500)))
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}"}

    async def client(http: aiohttp.ClientSession, n: int) -> None:
        i = n
        while time.monotonic() < stop:
            started = time.perf_counter()
            async with http.get(f"{base}/v1/documents/{ids[i % len(ids)]}", headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status
            latencies.append(time.perf_counter() - started)
            i += 4

    async def scraper(http: aiohttp.ClientSession) -> None:
        while rate and time.monotonic() < stop:
            tick = time.monotonic()
            async with http.get(f"{base}/metrics") as r:
                await r.read()
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - tick)))

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(scraper(http), *(client(http, n) for n in range(4)))
    from gateway.web import METRICS

    scans = app[METRICS].snapshot.refreshes
    await runner.cleanup()
    return latencies, scans


def _row(name: str, lat: list[float], scans: int) -> str:
    q = statistics.quantiles(lat, n=100)
    return (
        f"{name:16} {len(lat):8d} {q[49] * 1000:9.1f} {q[98] * 1000:9.1f} "
        f"{max(lat) * 1000:9.1f} {scans:6d}"
    )


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--documents", type=int, default=17_000)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--rate", type=float, default=25.0, help="scrapes per second")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        await _prefill(work, args.documents)
        print(f"store: {args.documents:,} documents ({time.perf_counter() - started:.0f} s)")
        kinds = (
            ("no scrapes", 15.0, 0.0),
            ("scan per scrape", 0.0, args.rate),
            ("snapshot", 15.0, args.rate),
        )
        results: dict[str, tuple[list[float], int]] = {k[0]: ([], 0) for k in kinds}
        for _ in range(args.rounds):
            for name, snap, rate in kinds:
                lat, scans = await _measure(work, snap, rate, args.seconds)
                results[name] = (results[name][0] + lat, results[name][1] + scans)
        head = f"{'run':16} {'requests':>8} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'scans':>6}"
        print(head)
        for name, (lat, scans) in results.items():
            print(_row(name, lat, scans), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
