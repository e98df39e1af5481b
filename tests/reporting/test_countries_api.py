"""The reporting routes' query parameters on a real gateway on loopback: ``c4-unknown`` and
``peppol-reports`` parse them with the toolkit's ``Params`` (strict booleans, unknown names
refused), like every other list route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store import repo
from tests.live_gateway import Gw, factory
from tests.reporting.reporting_support import at, inbound

C4_UNKNOWN = "/v1/admin/reporting/c4-unknown"


@pytest.fixture
async def gw(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Gw]:
    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        yield await make()


async def _operator(gw: Gw) -> str:
    async with gw.db.write() as s:
        _, key = await repo.create_api_key(s, "sp", ("admin",), operator=True)
    return key


async def test_c4_unknown_takes_a_strict_guessed_flag(gw: Gw) -> None:
    key = await gw.key("acme", "admin")
    unknown, guessed, known = (
        inbound(at(2), "POP000002", "0007:1", c4=""),  # c4_source "unknown"
        inbound(at(3), "POP000002", "0007:2", c4="NO"),
        inbound(at(4), "POP000002", "0007:3", c4="SE"),
    )
    guessed.c4_source, known.c4_source = "config", "document"
    async with gw.db.write() as s:
        s.add_all([unknown, guessed, known])

    def listed(body: Any) -> list[str]:
        return [d["message_id"] for d in body["documents"]]

    for query, expected in [
        ("", [unknown.message_id]),
        ("?guessed=false", [unknown.message_id]),
        ("?guessed=", [unknown.message_id]),  # empty counts as absent
        ("?guessed=true", [unknown.message_id, guessed.message_id]),
        ("?guessed=1", [unknown.message_id, guessed.message_id]),
    ]:
        status, body = await gw.call("GET", key, C4_UNKNOWN + query)
        assert (status, listed(body)) == (200, expected), query

    # A value that is not a boolean used to mean "false" silently; now it is refused.
    status, body = await gw.call("GET", key, C4_UNKNOWN + "?guessed=maybe")
    assert status == 400
    assert (body["code"], body["parameter"]) == ("invalid-parameter", "guessed")
    status, body = await gw.call("GET", key, C4_UNKNOWN + "?guessed=true&guessed=false")
    assert (status, body["code"]) == (400, "invalid-parameter")
    status, body = await gw.call("GET", key, C4_UNKNOWN + "?guesed=true")
    assert status == 400
    assert (body["code"], body["parameter"], body["accepted"]) == (
        "unknown-parameter",
        "guesed",
        ["guessed"],
    )
    # Another tenant sees none of acme's rows.
    status, body = await gw.call("GET", await gw.key("b", "admin"), C4_UNKNOWN + "?guessed=true")
    assert (status, body["documents"]) == (200, [])


async def test_peppol_reports_list_refuses_unknown_and_bad_parameters(gw: Gw) -> None:
    key = await _operator(gw)
    reports = "/v1/admin/peppol-reports"
    status, body = await gw.call("GET", key, reports + "?mnth=2026-01")
    assert (status, body["code"], body["parameter"]) == (400, "unknown-parameter", "mnth")
    status, body = await gw.call("GET", key, reports + "?month=2026-13")
    assert (status, body["code"]) == (400, "bad-month")  # the request's fault comes first
    # A good month gets past the parameters: without [as4] there is no reporting service.
    status, body = await gw.call("GET", key, reports + "?month=2026-01")
    assert (status, body["code"]) == (409, "as4-not-configured")
