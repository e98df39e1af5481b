"""The AS4 admin views' query parameters (``/v1/admin/reporting``, ``/v1/admin/mls/
service-levels``) on a real gateway on loopback: the toolkit's ``Params`` refuse unknown names
and bad values; the period keeps its own ``bad-period`` code. These routes are mounted with or
without ``[as4]``, so a plain gateway serves them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store import repo
from tests.live_gateway import Gw, factory


@pytest.fixture
async def gw(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Gw]:
    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        yield await make()


async def test_reporting_rows_parameters(gw: Gw) -> None:
    key = await gw.key("acme", "admin")
    status, body = await gw.call("GET", key, "/v1/admin/reporting?from=2026-01-01&to=2026-02-01")
    assert (status, body) == (200, {"rows": [], "count": 0})
    status, summary = await gw.call("GET", key, "/v1/admin/reporting?format=summary")
    assert status == 200 and "rows" not in summary
    for query, code, name in [
        ("format=csv", "invalid-parameter", "format"),  # used to answer rows silently
        ("form=2026-01-01", "unknown-parameter", "form"),
        ("from=2026-01-01&from=2026-02-01", "invalid-parameter", "from"),
    ]:
        status, problem = await gw.call("GET", key, f"/v1/admin/reporting?{query}")
        assert status == 400, (query, problem)
        assert (problem["code"], problem["parameter"]) == (code, name), query
    status, problem = await gw.call("GET", key, "/v1/admin/reporting?from=last-week")
    assert (status, problem["code"]) == (400, "bad-period")


async def test_service_levels_days(gw: Gw) -> None:
    async with gw.db.write() as s:
        _, key = await repo.create_api_key(s, "sp", ("admin",), operator=True)
    status, _ = await gw.call("GET", key, "/v1/admin/mls/service-levels?days=2")
    assert status == 200
    for query, code in [
        ("days=0", "invalid-parameter"),
        ("days=367", "invalid-parameter"),
        ("days=week", "invalid-parameter"),
        ("since=2026-01-01", "unknown-parameter"),
    ]:
        status, problem = await gw.call("GET", key, f"/v1/admin/mls/service-levels?{query}")
        assert (status, problem["code"]) == (400, code), (query, problem)
