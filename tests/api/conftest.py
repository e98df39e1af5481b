"""A real gateway on loopback: aiohttp test server, SQLite file in tmp, real validator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.server import create_app
from gateway.store import Database

# The gateway these tests drive, shared with tests/admin (the operator routing tests).
from tests.api_gateway import XR, Gateway, gateway, gateway_settings, invalid, renumber, ubl  # noqa: F401


@pytest.fixture
def cii(corpus_dir: Path) -> bytes:
    """The same invoice as :func:`ubl` (same seller, number, date, amount), in CII syntax."""
    return (corpus_dir / XR / "01.01a-INVOICE_uncefact.xml").read_bytes()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[Gateway]:
    """The gateway on SQLite and on PostgreSQL (where over-long values and NULs used to 500)."""
    async with AsyncExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgres":
            from gateway.store import upgrade

            fresh = request.getfixturevalue("pg_databases")
            overrides["database_url"] = await stack.enter_async_context(fresh())
            db = Database.from_settings(gateway_settings(tmp_path, **overrides))
            await upgrade(db.engine)
            await db.dispose()
        app = create_app(gateway_settings(tmp_path, **overrides), validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        async with aiohttp.ClientSession() as http:
            yield Gateway(app, str(server.make_url("")).rstrip("/"), http)
        await server.close()


@pytest.fixture
async def make_gateway(
    tmp_path: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_gateway(**http_settings)``: a gateway with its own ``[http]`` settings."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(**http: Any) -> Gateway:
        app = create_app(gateway_settings(tmp_path, http=http), validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Gateway(app, str(server.make_url("")).rstrip("/"), session)

    yield make
    for s in sessions:
        await s.close()
