"""The reporting routes' query parameters on a real gateway on loopback: ``c4-unknown`` and
``peppol-reports`` parse them with the toolkit's ``Params`` (strict booleans, unknown names
refused), like every other list route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from reporting_support import at, inbound

from gateway.config import load_settings
from gateway.server.app import create_app
from gateway.store import repo
from gateway.web import DB

C4_UNKNOWN = "/v1/admin/reporting/c4-unknown"


@pytest.fixture
async def served(
    tmp_path: Path, installed_data_dir: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[tuple[str, aiohttp.ClientSession, Any]]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "artefacts").symlink_to((installed_data_dir / "artefacts").resolve())
    settings = load_settings(env={}, overrides={"data_dir": str(data)})
    app = create_app(settings, validator=validator)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    async with aiohttp.ClientSession() as http:
        yield str(server.make_url("")).rstrip("/"), http, app


async def _auth(app: Any, tenant: str, *, operator: bool = False) -> dict[str, str]:
    async with app[DB].write() as s:
        _, key = await repo.create_api_key(s, tenant, ("admin",), operator=operator)
    return {"Authorization": f"Bearer {key}"}


async def _get(http: aiohttp.ClientSession, url: str, auth: dict[str, str]) -> tuple[int, Any]:
    async with http.get(url, headers=auth) as resp:
        return resp.status, await resp.json()


async def test_c4_unknown_takes_a_strict_guessed_flag(served: Any) -> None:
    url, http, app = served
    auth = await _auth(app, "acme")
    unknown, guessed, known = (
        inbound(at(2), "POP000002", "0007:1", c4=""),  # c4_source "unknown"
        inbound(at(3), "POP000002", "0007:2", c4="NO"),
        inbound(at(4), "POP000002", "0007:3", c4="SE"),
    )
    guessed.c4_source, known.c4_source = "config", "document"
    async with app[DB].write() as s:
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
        status, body = await _get(http, url + C4_UNKNOWN + query, auth)
        assert (status, listed(body)) == (200, expected), query

    # A value that is not a boolean used to mean "false" silently; now it is refused.
    status, body = await _get(http, url + C4_UNKNOWN + "?guessed=maybe", auth)
    assert status == 400
    assert (body["code"], body["parameter"]) == ("invalid-parameter", "guessed")
    status, body = await _get(http, url + C4_UNKNOWN + "?guessed=true&guessed=false", auth)
    assert (status, body["code"]) == (400, "invalid-parameter")
    status, body = await _get(http, url + C4_UNKNOWN + "?guesed=true", auth)
    assert status == 400
    assert (body["code"], body["parameter"], body["accepted"]) == (
        "unknown-parameter",
        "guesed",
        ["guessed"],
    )
    # Another tenant sees none of acme's rows.
    status, body = await _get(http, url + C4_UNKNOWN + "?guessed=true", await _auth(app, "b"))
    assert (status, body["documents"]) == (200, [])


async def test_peppol_reports_list_refuses_unknown_and_bad_parameters(served: Any) -> None:
    url, http, app = served
    auth = await _auth(app, "sp", operator=True)
    reports = url + "/v1/admin/peppol-reports"
    status, body = await _get(http, reports + "?mnth=2026-01", auth)
    assert (status, body["code"], body["parameter"]) == (400, "unknown-parameter", "mnth")
    status, body = await _get(http, reports + "?month=2026-13", auth)
    assert (status, body["code"]) == (400, "bad-month")  # the request's fault comes first
    # A good month gets past the parameters: without [as4] there is no reporting service.
    status, body = await _get(http, reports + "?month=2026-01", auth)
    assert (status, body["code"]) == (409, "as4-not-configured")
