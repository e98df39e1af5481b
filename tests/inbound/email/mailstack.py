"""A real SMTP channel on the real intake pipeline and store (imported by this directory's tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import Settings, load_settings
from gateway.inbound import IntakePipeline
from gateway.inbound.email import SmtpChannel
from gateway.store import Database, repo, upgrade


@dataclass
class Stack:
    """A real SMTP channel on the real intake pipeline and store (SQLite or PostgreSQL)."""

    settings: Settings
    db: Database
    intake: IntakePipeline
    channel: SmtpChannel


@asynccontextmanager
async def running_stack(
    tmp_path: Path,
    installed_data_dir: Path,
    validator: Any,
    database_url: str = "",
    smtp: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    if not (data_dir / "artefacts").exists():
        (data_dir / "artefacts").symlink_to(installed_data_dir / "artefacts")
    settings = load_settings(
        env={},
        overrides={
            "data_dir": str(data_dir),
            "database_url": database_url,
            "smtp": {"host": "127.0.0.1", "port": 0, **(smtp or {})},
        },
    )
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    async with db.write() as session:
        await repo.add_participant(session, "acme", "0002:FR23342")
        await repo.add_participant(session, "kosit", "EM:rechnungseingang@test.de")
    intake = IntakePipeline(db, validator)
    channel = SmtpChannel(settings, intake)
    await channel.start()
    try:
        yield Stack(settings, db, intake, channel)
    finally:
        await channel.stop()
        await db.dispose()
