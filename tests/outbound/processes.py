"""Whole gateway processes for the outbound tests: a slow counting receiver, a config file,
``gateway outbound run`` subprocesses with their stderr drained (used by test_processes and
test_drafts; the ``counting`` fixture is in this folder's conftest)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.gateway_process import run_gateway

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
    """``gateway outbound run`` with ``config``; its stderr goes to :data:`STDERR`."""
    return await run_gateway(config, "outbound", "run", log=STDERR)


def numbered(invoice: bytes, n: int) -> bytes:
    return invoice.replace(b"<cbc:ID>Snippet1</cbc:ID>", f"<cbc:ID>INV-{n:04d}</cbc:ID>".encode())


#: Run by a second interpreter: queue one document, print its Message-Id and the commit time.
ENQUEUE_ELSEWHERE = """
import asyncio, sys, time
from gateway.config import load_settings
from gateway.outbound import OutboundQueue
from gateway.store import Database
from tests.outbound.conftest import enqueue_doc

async def main():
    settings = load_settings(
        env={}, overrides={"data_dir": sys.argv[1], "database_url": sys.argv[2]}
    )
    db = Database.from_settings(settings)
    item, _ = await enqueue_doc(OutboundQueue(db, settings.outbound), sys.stdin.buffer.read(),
                                "0002:elsewhere")
    committed = time.time()
    await db.dispose()
    print(item.message_id, committed)

asyncio.run(main())
"""


async def enqueue_elsewhere(settings: Any, invoice: bytes) -> tuple[str, float]:
    """Queue ``invoice`` from a second interpreter on ``settings``' database: its Message-Id
    and the wall-clock time of that process's commit."""
    where = [settings.data_dir, settings.database_url]
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", ENQUEUE_ELSEWHERE, *map(str, where)],
        input=invoice,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    message_id, committed = done.stdout.decode().split()
    return message_id, float(committed)
