"""200 files, two gateway processes watching one folder, one of them killed -9 and restarted:
every file processed exactly once, none lost, partial files never read."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.config import load_settings
from gateway.store import Database, Document
from tests.gateway_process import free_port, serve, shared_database
from tests.waiting import until

XR = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"
N = 200
STDERR: list[str] = []


def _stderr_tail() -> str:
    return "\n".join(STDERR[-30:])


def _config(path: Path, data_dir: Path, folder: Path, database_url: str) -> Path:
    path.write_text(
        "\n".join(
            [
                f'data_dir = "{data_dir}"',
                f'database_url = "{database_url}"',
                "[validation]",
                "jobs = 0",
                "[log]",
                'level = "WARNING"',
                "[[folders]]",
                'tenant = "acme"',
                f'path = "{folder}"',
                "stable_seconds = 0.5",
                "poll_interval = 0.1",
            ]
        )
        + "\n"
    )
    return path


async def _serve(config: Path) -> asyncio.subprocess.Process:
    return await serve(config, STDERR, env={"GATEWAY_HTTP_PORT": str(free_port())})


def _processed(folder: Path) -> list[Path]:
    done = folder / "processed"
    if not done.is_dir():
        return []
    return [p for p in done.iterdir() if not p.name.endswith(".report.json")]


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """PostgreSQL when the test server is there (several processes), else SQLite (WAL)."""
    async with shared_database("gw_folder") as url:
        yield url


@pytest.mark.slow
async def test_200_files_two_processes_kill_and_restart(
    tmp_path: Path, installed_data_dir: Path, corpus_dir: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "artefacts").symlink_to((installed_data_dir / "artefacts").resolve())
    folder = tmp_path / "acme-in"
    folder.mkdir()
    config = _config(tmp_path / "gw.toml", data, folder, database_url)
    settings = load_settings(str(config), env={})
    db = Database.from_settings(settings)
    if database_url:
        from gateway.store import upgrade

        await upgrade(db.engine)
    invoice = (corpus_dir / XR).read_bytes()
    files = {
        f"inv-{i:03d}.xml": invoice.replace(b"123456XX", f"F-{i:03d}".encode()) for i in range(N)
    }

    first = await _serve(config)
    procs = [first]
    try:
        await asyncio.sleep(1.0)  # let the first migrate SQLite before the second starts
        procs.append(await _serve(config))
        for i, (name, body) in enumerate(files.items()):
            if i % 3 == 0:  # written under a temporary name, then renamed
                (folder / f".{name}.part").write_bytes(body)
                (folder / f".{name}.part").rename(folder / name)
            else:  # written in place, in two halves, with a pause shorter than stable_seconds
                with (folder / name).open("wb") as f:
                    f.write(body[: len(body) // 2])
                    f.flush()
                    await asyncio.sleep(0.02)
                    f.write(body[len(body) // 2 :])
        await until(
            lambda: len(_processed(folder)) >= N // 4,
            240,
            "a quarter processed",
            0.1,
            detail=_stderr_tail,
        )
        first.send_signal(signal.SIGKILL)  # mid-work: files claimed, some stored, none moved
        await first.wait()
        procs[0] = await _serve(config)  # restarted
        await until(
            lambda: len(_processed(folder)) >= N,
            300,
            "every file processed",
            0.1,
            detail=_stderr_tail,
        )
        await asyncio.sleep(1.0)  # nothing more may appear
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()

    done = _processed(folder)
    assert sorted(p.name for p in done) == sorted(files)  # each once: no inv-001-1.xml
    for p in done:
        assert p.read_bytes() == files[p.name]
        report = json.loads((p.parent / (p.name + ".report.json")).read_text())
        assert report["status"] == "received", report
    assert list((folder / ".processing").iterdir()) == []
    assert list((folder / "failed").iterdir()) == []  # no partial file was ever read
    assert [p.name for p in folder.iterdir() if p.is_file()] == []
    async with db.read() as s:
        total = await s.scalar(select(func.count()).select_from(Document))
        statuses = dict(
            (await s.execute(select(Document.status, func.count()).group_by(Document.status))).all()
        )
        claims = [d.get("folder", {}).get("claim") for d in await s.scalars(select(Document.meta))]
    await db.dispose()
    assert total == N and statuses == {"received": N}  # stored once each, no duplicates
    assert len(set(claims)) == N
    print(
        f"folder channel: {N} files, 2 processes, one killed and restarted; db={db.engine.dialect.name}"
    )
