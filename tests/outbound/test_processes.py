"""Whole gateway processes: kill -9 mid-send, and two processes draining one PostgreSQL queue.

The processes are real ``gateway outbound run`` subprocesses (the same worker ``gateway serve``
runs); the receiver is a real HTTP server in the test process that records every request.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from gateway.outbound.models import OutboundAttempt, OutboundItem
from gateway.outbound.queue import OutboundQueue
from tests.outbound.conftest import enqueue_doc, make_settings, open_db
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


class CountingReceiver:
    """Records (Message-Id, invoice number) of every accepted request; answers slowly."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests: list[tuple[str, str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(self.delay)
        number = body.split(b"<cbc:ID>", 1)[1].split(b"<", 1)[0].decode()
        self.requests.append((request.headers["Message-Id"], number))
        return web.Response(status=202)

    def repeats(self) -> dict[str, set[str]]:
        ids: dict[str, set[str]] = defaultdict(set)
        for message_id, number in self.requests:
            ids[number].add(message_id)
        return ids


@pytest.fixture
async def counting() -> AsyncIterator[CountingReceiver]:
    rec = CountingReceiver(delay=0.05)
    app = web.Application()
    app.router.add_post("/inbox", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/inbox"  # type: ignore[union-attr]
    yield rec
    await runner.cleanup()


def write_config(
    path: Path, data_dir: Path, url: str, database_url: str = "", **out: object
) -> Path:
    outbound = {
        "lease_seconds": 2.0,
        "workers": 8,
        "per_receiver_concurrency": 8,
        "poll_interval": 0.05,
        "retry_initial": 0.1,
        "retry_max": 0.5,
        "request_timeout": 1.5,
        **out,
    }
    lines = [f'data_dir = "{data_dir}"', f'database_url = "{database_url}"', "[outbound]"]
    lines += [f"{k} = {v}" for k, v in outbound.items()]
    lines += [
        "[log]",
        'level = "WARNING"',
        "[[routes]]",
        'participant = "0002:*"',
        f'url = "{url}"',
        'transport = "http"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


#: stderr of every gateway process started by a test, drained continuously (a full pipe would
#: block the child's logging) and shown when a wait times out.
STDERR: list[str] = []


def gateway_stderr() -> str:
    """The tail of the gateways' stderr, for a timeout's message."""
    return "gateway stderr:\n" + "\n".join(STDERR[-30:])


async def start_gateway(config: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "--config",
        str(config),
        "outbound",
        "run",
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )

    async def drain() -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            STDERR.append(line.decode(errors="replace").rstrip())

    proc._drain = asyncio.get_running_loop().create_task(drain())  # type: ignore[attr-defined]
    return proc


def numbered(invoice: bytes, n: int) -> bytes:
    return invoice.replace(b"<cbc:ID>Snippet1</cbc:ID>", f"<cbc:ID>INV-{n:04d}</cbc:ID>".encode())


async def _count(db, *where) -> int:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(OutboundItem).where(*where))


async def test_kill_9_mid_send_then_restart_delivers_everything(
    tmp_path: Path, counting: CountingReceiver, invoice: bytes
) -> None:
    n = 60
    settings = make_settings(tmp_path)
    db = await open_db(settings)
    queue = OutboundQueue(db, settings.outbound)
    for i in range(n):
        await enqueue_doc(queue, numbered(invoice, i), "0002:fr23342")
    config = write_config(tmp_path / "gw.toml", tmp_path, counting.url)

    proc = await start_gateway(config)
    try:
        await until(
            lambda: _received(counting, 15),
            30,
            "first deliveries",
            detail=gateway_stderr,
        )
        # Kill at a moment when the database shows leased items (between two loop turns a
        # worker may briefly hold none).
        in_flight = 0
        for _ in range(200):
            in_flight = await _count(db, OutboundItem.state == "sending")
            if in_flight:
                break
            await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert in_flight > 0, "kill should hit items in flight"
        delivered_before = await _count(db, OutboundItem.state == "delivered")
        assert delivered_before < n

        proc = await start_gateway(config)
        await until(
            lambda: _all_delivered(db, n),
            60,
            "all items delivered after restart",
            detail=gateway_stderr,
        )
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()

    ids = counting.repeats()
    assert len(ids) == n, "every invoice reached the receiver"
    # Each invoice travelled under exactly one Message-Id, so every repeat is detectable.
    assert all(len(m) == 1 for m in ids.values())
    repeats = len(counting.requests) - n
    print(f"kill -9: {in_flight} in flight at kill, {repeats} detectable repeat(s), 0 undetectable")
    async with db.read() as s:
        owners = set(await s.scalars(select(OutboundAttempt.worker)))
    assert len(owners) == 2  # both process lives recorded attempts
    await db.dispose()


async def _received(rec: CountingReceiver, k: int) -> bool:
    return len(rec.requests) >= k


async def _all_delivered(db, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await _count(db, OutboundItem.state == "delivered") == n


@pytest.fixture
async def pg_database(postgres_url: str) -> AsyncIterator[str]:
    """A fresh database on the test PostgreSQL server, dropped afterwards."""
    import asyncpg

    base = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"gw_outbound_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(base)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    head, _, _ = postgres_url.rpartition("/")
    yield f"{head}/{name}"
    conn = await asyncpg.connect(base)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


@pytest.mark.postgres
async def test_two_gateways_on_one_postgresql_send_nothing_twice(
    tmp_path: Path, counting: CountingReceiver, invoice: bytes, pg_database: str
) -> None:
    n = 200
    counting.delay = 0.01
    settings = make_settings(tmp_path, database_url=pg_database)
    db = await open_db(settings)
    queue = OutboundQueue(db, settings.outbound)
    for i in range(n):
        await enqueue_doc(queue, numbered(invoice, i), "0002:fr23342")
    config = write_config(
        tmp_path / "gw.toml", tmp_path, counting.url, database_url=pg_database, lease_seconds=30.0
    )
    procs = [await start_gateway(config), await start_gateway(config)]
    try:
        await until(
            lambda: _all_delivered(db, n),
            90,
            "all items delivered",
            detail=gateway_stderr,
        )
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()
    assert len(counting.requests) == n, "no item was sent twice"
    assert len({m for m, _ in counting.requests}) == n
    async with db.read() as s:
        per_worker = dict(
            (
                await s.execute(
                    select(OutboundAttempt.worker, func.count()).group_by(OutboundAttempt.worker)
                )
            ).all()
        )
    assert len(per_worker) == 2 and all(c > 0 for c in per_worker.values()), per_worker
    assert sum(per_worker.values()) == n
    print(f"two gateways on PostgreSQL: {per_worker}")
    await db.dispose()
