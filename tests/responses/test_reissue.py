"""The outbound duplicate guard (409 ``duplicate-outbound`` unless ``?reissue=true``) and the
deterministic choice of the copy an Invoice Response moves when several copies exist."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tests.live_gateway import BUYER, SELLER, invoice_response

NUMBER = "COPY-2024-1"


async def test_same_invoice_twice_is_refused_unless_reissued(
    gw_factory: Any, make_invoice: Any, store_url: str
) -> None:
    gw = await gw_factory(settings={"database_url": store_url})
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
    assert status == 400 and bad["code"] == "invalid-parameter" and bad["parameter"] == "reissue"


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


async def test_drafts_are_guarded_when_created_corrected_and_sent(
    gw_factory: Any, make_invoice: Any, store_url: str
) -> None:
    """A draft never slips past the guard: not at creation, not by a correction that changes
    its business key into a sent one's, not when sent (by the issuer or at ``send_at``)."""
    gw = await gw_factory(settings={"database_url": store_url})
    key = await gw.key("acme")
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    other = make_invoice(gw.base_invoice, number="COPY-2024-2", seller=SELLER, buyer=BUYER)
    original = await gw.send_invoice(key, raw)

    status, refused = await gw.call("POST", key, "/v1/outbound?draft=true", xml=raw)
    assert status == 409 and refused["code"] == "duplicate-outbound", refused
    assert refused["original_id"] == original

    # Two drafts of another invoice: the first one sent holds the key, the second is refused.
    status, d1 = await gw.call("POST", key, "/v1/outbound?draft=true", xml=other)
    assert status == 201, d1
    status, d2 = await gw.call("POST", key, "/v1/outbound?draft=true", xml=other)
    assert status == 201, d2
    status, sent = await gw.call("POST", key, f"/v1/outbound/{d1['id']}/send")
    assert status == 202, sent
    status, again = await gw.call("POST", key, f"/v1/outbound/{d2['id']}/send")
    assert status == 409 and again["code"] == "duplicate-outbound", again
    assert again["original_id"] == d1["id"]
    assert (await gw.doc(key, d2["id"]))["canonical_status"] == "draft"  # nothing changed

    # A correction that turns a fresh draft into a copy of the sent original is refused.
    fresh = make_invoice(gw.base_invoice, number="COPY-2024-3", seller=SELLER, buyer=BUYER)
    status, d3 = await gw.call("POST", key, "/v1/outbound?draft=true", xml=fresh)
    assert status == 201, d3
    status, put = await gw.call("PUT", key, f"/v1/outbound/{d3['id']}/content", xml=raw)
    assert status == 409 and put["original_id"] == original, put
    assert (await gw.doc(key, d3["id"]))["number"] == "COPY-2024-3"  # content kept
    status, put = await gw.call(
        "PUT", key, f"/v1/outbound/{d3['id']}/content?reissue=true", xml=raw
    )
    assert status == 200, put
    status, copy = await gw.call("POST", key, f"/v1/outbound/{d3['id']}/send")
    assert status == 202, copy  # a draft corrected as a deliberate reissue stays one
    body = await gw.wait_status(key, d3["id"], "delivered")
    assert body["metadata"]["reissue_of"] == original

    # The second draft can still go out, deliberately.
    status, copy = await gw.call("POST", key, f"/v1/outbound/{d2['id']}/send?reissue=true")
    assert status == 202, copy
    await gw.wait_status(key, d1["id"], "delivered")
    await gw.wait_status(key, d2["id"], "delivered")
    numbers = [b.count(b"COPY-2024-2") > 0 for b in gw.ap.bodies]
    assert sum(numbers) == 2  # the original and the one deliberate copy


async def test_a_scheduled_duplicate_stays_a_draft(gw_factory: Any, make_invoice: Any) -> None:
    """The same invoice sent directly before its scheduled draft falls due: the scheduler does
    not send it twice; the draft stays, with the reason in its history."""
    gw = await gw_factory()
    key = await gw.key("acme")
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    status, later = await gw.call("POST", key, f"/v1/outbound?send_at={when}", xml=raw)
    assert status == 201, later  # not a duplicate yet: nothing was sent
    original = await gw.send_invoice(key, raw)
    for _ in range(150):  # the scheduler runs every poll interval
        history = (await gw.doc(key, later["id"]))["history"]
        if any("not sent at send_at" in (h.get("reason") or "") for h in history):
            break
        await asyncio.sleep(0.1)
    doc = await gw.doc(key, later["id"])
    assert doc["canonical_status"] == "draft"
    assert f"already submitted as {original}" in doc["history"][-1]["reason"]
    status, shown = await gw.call("GET", key, f"/v1/outbound/{later['id']}")
    assert status == 200 and shown["send_at"] is None  # not retried every round
    assert len(gw.ap.bodies) == 1
