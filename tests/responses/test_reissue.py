"""The outbound duplicate guard (409 ``duplicate-outbound`` unless ``?reissue=true``) and the
deterministic choice of the copy an Invoice Response moves when several copies exist."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from live_gateway import BUYER, SELLER, invoice_response

NUMBER = "COPY-2024-1"


def _db(url: str | None) -> dict[str, Any]:
    return {"database_url": url} if url else {}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_database"))


async def test_same_invoice_twice_is_refused_unless_reissued(
    gw_factory: Any, make_invoice: Any, database_url: str | None
) -> None:
    gw = await gw_factory(settings=_db(database_url))
    key = await gw.key("acme")
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    # Submitted concurrently: the database lets exactly one through.
    answers = await asyncio.gather(
        *(gw.call("POST", key, "/v1/outbound", xml=raw) for _ in range(4))
    )
    created = [b for st, b in answers if st == 202]
    refused = [b for st, b in answers if st == 409]
    assert len(created) == 1 and len(refused) == 3, answers
    original = created[0]["id"]
    assert {b["code"] for b in refused} == {"duplicate-outbound"}
    assert {b["original_id"] for b in refused} == {original}
    assert "?reissue=true" in refused[0]["detail"]
    await gw.wait_status(key, original, "delivered")
    assert len(gw.ap.bodies) == 1  # delivered once

    # Another tenant may send the same bytes (its own business), another receiver too.
    other = await gw.key("other")
    status, _ = await gw.call("POST", other, "/v1/outbound", xml=raw)
    assert status == 202

    status, copy = await gw.call("POST", key, "/v1/outbound?reissue=true", xml=raw)
    assert status == 202, copy
    body = await gw.wait_status(key, copy["id"], "delivered")
    assert body["metadata"]["reissue_of"] == original
    # The original keeps the claim: a third plain submission still names it.
    status, again = await gw.call("POST", key, "/v1/outbound", xml=raw)
    assert status == 409 and again["original_id"] == original
    status, bad = await gw.call("POST", key, "/v1/outbound?reissue=maybe", xml=raw)
    assert status == 400 and bad["code"] == "bad-request"


async def test_response_moves_one_copy_deterministically(
    gw_factory: Any, make_invoice: Any
) -> None:
    gw = await gw_factory()
    key = await gw.key("acme")
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    first = await gw.send_invoice(key, raw)
    status, second = await gw.call("POST", key, "/v1/outbound?reissue=true", xml=raw)
    assert status == 202
    await gw.wait_status(key, second["id"], "delivered")
    await gw.hand_in_response(key, invoice_response("AP", "AP-1", NUMBER))

    newest = await gw.doc(key, second["id"])
    assert newest["status"] == "accepted"
    assert (await gw.doc(key, first))["status"] == "delivered"
    [resp] = newest["invoice_responses"]
    assert resp["copies"] == [first, second["id"]]
    assert resp["detail"] == (
        f"matched copy {second['id']} of 2 copies ({first}, {second['id']}): "
        "newest copy that reached the buyer, else the newest copy"
    )
