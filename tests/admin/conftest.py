"""Fixtures for the management API: a real gateway on loopback (see tests/live_gateway.py), on
SQLite and on PostgreSQL, with an operator key and two tenants' admin keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.store import repo

# The API's gateway on loopback, for the operator routing tests (test_routing.py).
from tests.api_gateway import gateway, ubl  # noqa: F401
from tests.live_gateway import Gw, factory


@dataclass
class Admins:
    """A gateway with an operator key and admin keys of tenants ``acme`` and ``beta``."""

    gw: Gw
    operator: str
    acme: str
    beta: str


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """'' (SQLite in tmp) or a new PostgreSQL database, set up before the gateway's server so
    it is dropped only after the server has stopped."""
    return request.getfixturevalue("pg_database") if request.param == "postgres" else ""


@pytest.fixture
async def admins(
    database_url: str, tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Admins]:
    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        gw = await make(settings={"database_url": database_url} if database_url else {})
        async with gw.db.write() as s:
            _, operator = await repo.create_api_key(s, "operator", [], "ops", operator=True)
        acme, beta = await gw.key("acme", "admin"), await gw.key("beta", "admin")
        yield Admins(gw, operator, acme, beta)
