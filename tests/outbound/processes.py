"""Whole gateway processes for the outbound tests: a slow counting receiver, a config file,
``gateway outbound run`` subprocesses with their stderr drained (used by test_processes and
test_drafts; the ``counting`` fixture is in this folder's conftest)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

from aiohttp import web

from tests.gateway_process import run_gateway


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
