"""Real ``gateway serve`` processes for the kill -9 tests (CDAR, Invoice Responses, folders).

What those tests share: a config (:func:`serve_config`), a free loopback port, a ``gateway
serve`` subprocess whose stderr is
kept (the last lines go into a failure's message), waiting until it answers
``/health/live``, and a database several processes can open: a fresh PostgreSQL database when
``GATEWAY_TEST_POSTGRES_URL`` is set (dropped afterwards), else "" (SQLite in the data dir).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def serve_config(
    tmp: Path,
    installed_data_dir: Path,
    port: int,
    ap_url: str,
    sections: dict[str, list[str]],
    database_url: str = "",
) -> Path:
    """``tmp/gateway.toml`` for a gateway served on loopback ``port``: a data dir in ``tmp``
    with the installed artefacts, warnings-only logs, a fast outbound queue that delivers every
    participant's documents to ``ap_url``, no report schedule, plus ``sections`` (name ->
    lines). ``database_url`` "" is the SQLite file in the data dir."""
    data = tmp / "data"
    data.mkdir()
    (data / "artefacts").symlink_to((installed_data_dir / "artefacts").resolve())
    base: dict[str, list[str]] = {
        "http": ['host = "127.0.0.1"', f"port = {port}"],
        "log": ['level = "WARNING"'],
        "outbound": [
            "retry_initial = 0.2",
            "retry_max = 1.0",
            "poll_interval = 0.1",
            "lease_seconds = 3.0",
        ],
        "reporting": ["schedule = false"],
    }
    lines = [f'data_dir = "{data}"', f'database_url = "{database_url}"']
    for name, body in {**base, **sections}.items():
        lines += [f"[{name}]", *body]
    lines += ["[[routes]]", 'participant = "*"', f'url = "{ap_url}/ap"']
    path = tmp / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(
    config: Path, log: list[str], *, env: dict[str, str] | None = None, url: str | None = None
) -> asyncio.subprocess.Process:
    """Start ``gateway --config CONFIG serve``; its stderr lines go to ``log``. With ``url``
    (the gateway's base URL), return once it answers ``/health/live``."""
    proc = await run_gateway(config, "serve", log=log, env=env)
    if url is not None:
        await _live(proc, url, log)
    return proc


async def run_gateway(
    config: Path, *command: str, log: list[str], env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``gateway --config CONFIG COMMAND...`` from this checkout; its stderr is drained
    into ``log`` as it comes (a full pipe would block the child's logging)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "--config", str(config), *command,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def drain() -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            log.append(line.decode(errors="replace").rstrip())

    proc._drain = asyncio.get_running_loop().create_task(drain())  # type: ignore[attr-defined]
    return proc


async def _live(proc: asyncio.subprocess.Process, url: str, log: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            assert proc.returncode is None, "gateway died at start:\n" + "\n".join(log[-30:])
            try:
                async with http.get(url + "/health/live") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("gateway did not start:\n" + "\n".join(log[-30:]))


async def stop(proc: asyncio.subprocess.Process | None) -> None:
    """Kill a process a test left running (its own end, or a failure's)."""
    if proc is not None and proc.returncode is None:
        proc.kill()
        await proc.wait()


@asynccontextmanager
async def shared_database(prefix: str) -> AsyncIterator[str]:
    """The URL of a fresh PostgreSQL database (``GATEWAY_TEST_POSTGRES_URL`` set; dropped
    afterwards), else "" (the gateway's SQLite file in its data dir)."""
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if not url:
        yield ""
        return
    import asyncpg

    base = url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(base)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield f"{url.rpartition('/')[0]}/{name}"
    finally:
        conn = await asyncpg.connect(base)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
