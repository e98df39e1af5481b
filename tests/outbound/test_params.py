"""The sending routes' query is declared (gateway.outbound.params): on a real gateway, an unknown
name or a bad value is a 400 that names the parameter and stores nothing, a good one does what
it says, and OpenAPI describes the same parameters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from gateway.outbound import OutboundItem
from gateway.store import Document
from gateway.web import DB
from tests.outbound.conftest import Receiver, auth

XML = {"Content-Type": "application/xml"}


async def _post(client: Any, query: str, invoice: bytes) -> tuple[int, dict[str, Any]]:
    resp = await client.post(f"/v1/outbound{query}", data=invoice, headers={**auth(client), **XML})
    return resp.status, await resp.json()


async def _stored(client: Any) -> tuple[int, int]:
    async with client.server.app[DB].read() as s:
        docs = await s.scalar(select(func.count()).select_from(Document))
        items = await s.scalar(select(func.count()).select_from(OutboundItem))
    return docs, items


def _later() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_unknown_or_bad_query_is_refused_and_nothing_is_stored_or_sent(
    client: Any, receiver: Receiver, invoice: bytes
) -> None:
    # A misspelt send_at used to send the invoice at once.
    status, body = await _post(client, f"?sendat={_later()}", invoice)
    assert status == 400 and body["code"] == "unknown-parameter", body
    assert body["parameter"] == "sendat" and "send_at" in body["accepted"]
    refusals = {
        "?draft=maybe": "draft",
        "?send_at=tomorrow": "send_at",
        "?send_at=2999-01-01T08:00:00": "send_at",  # no time zone: whose 08:00?
        f"?draft=false&send_at={_later()}": "draft",  # a contradiction
        "?reissue=maybe": "reissue",
        "?receiver=0088:1%0d%0aX-Injected:%20yes": "receiver",
        "?reissue=true&reissue=false": "reissue",
    }
    for query, name in refusals.items():
        status, body = await _post(client, query, invoice)
        assert status == 400, (query, body)
        assert body["code"] == "invalid-parameter" and body["parameter"] == name, (query, body)
    assert (
        "time zone" in (await _post(client, "?send_at=2999-01-01T08:00:00", invoice))[1]["detail"]
    )
    assert await _stored(client) == (0, 0)
    assert receiver.received == []


async def test_declared_values_keep_a_draft_or_send(
    client: Any, receiver: Receiver, invoice: bytes
) -> None:
    # ``yes`` is true for every declared flag (it used to send the invoice at once).
    status, draft = await _post(client, "?draft=yes", invoice)
    assert status == 201 and draft["status"] == "draft" and draft["send_at"] is None, draft
    when = _later()
    status, scheduled = await _post(client, f"?send_at={when}&receiver=0002:buyer", invoice)
    assert status == 201 and scheduled["send_at"] == when, scheduled
    assert scheduled["receiver"] == "0002:buyer"
    assert await _stored(client) == (2, 0)  # drafts: stored, not queued
    status, sent = await _post(client, "?draft=false", invoice)
    assert status == 202 and sent["status"] == "queued", sent
    assert (await _stored(client))[1] == 1


async def test_the_draft_routes_declare_their_query_too(client: Any, invoice: bytes) -> None:
    status, draft = await _post(client, "?draft=true", invoice)
    assert status == 201, draft
    path = f"/v1/outbound/{draft['id']}"
    for method, url, data in (
        ("PUT", f"{path}/content?reissue=maybe", invoice),
        ("POST", f"{path}/send?reissue=maybe", None),
        ("POST", f"{path}/send?force=true", None),
    ):
        resp = await client.request(method, url, data=data, headers={**auth(client), **XML})
        body = await resp.json()
        assert resp.status == 400, (url, body)
        assert body["code"] in ("invalid-parameter", "unknown-parameter"), body
        assert body["parameter"] in ("reissue", "force"), body
    resp = await client.get(path, headers=auth(client))
    assert (await resp.json())["status"] == "draft"  # refused calls changed nothing


async def test_openapi_describes_the_declared_parameters(client: Any) -> None:
    spec = await (await client.get("/v1/openapi.json")).json()

    def query_of(path: str, method: str) -> dict[str, dict[str, Any]]:
        op = spec["paths"][path][method]
        return {p["name"]: p["schema"] for p in op.get("parameters", []) if p["in"] == "query"}

    submit = query_of("/v1/outbound", "post")
    assert set(submit) == {"draft", "send_at", "reissue", "receiver"}
    assert submit["draft"]["type"] == "boolean" and submit["send_at"]["format"] == "date-time"
    assert "400" in spec["paths"]["/v1/outbound"]["post"]["responses"]
    assert set(query_of("/v1/outbound/{id}/content", "put")) == {"receiver", "reissue"}
    assert set(query_of("/v1/outbound/{id}/send", "post")) == {"reissue"}
