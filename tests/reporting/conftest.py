"""A migrated SQLite gateway database with a month of known Peppol traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_settings
from gateway.store import Database, upgrade
from tests.reporting.reporting_support import traffic_rows


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    database = Database.from_settings(settings)
    await upgrade(database.engine)
    yield database
    await database.dispose()


@pytest.fixture
async def traffic(db: Database) -> Database:
    async with db.write() as s:
        s.add_all(traffic_rows())
    return db


@pytest.fixture
def validate(validator: Any) -> Any:
    async def run(raw: bytes, scenario: str) -> Any:
        return await validator.validate(raw, scenario)

    return run
