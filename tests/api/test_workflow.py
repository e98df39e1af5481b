"""Status transitions, admin mark-original, webhook forwarding with retries, pull inbox, routing."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import text

from gateway.forwarding import SIGNATURE_HEADER, verify
from gateway.inbound import Submission
from gateway.store import repo
from gateway.web import INTAKE

if TYPE_CHECKING:
    from tests.api_gateway import Gateway


async def _status(gateway: Gateway, key: str, doc: str, to: str, reason: str | None = None) -> Any:
    return await gateway.post_json(
        key, f"/v1/documents/{doc}/status", {"status": to, "reason": reason}
    )


async def test_approval_workflow_and_illegal_transitions(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme", "submit", "read", "status")
    _, created = await gateway.submit(key, ubl)
    doc = created["id"]

    status, body = await _status(gateway, key, doc, "approved_for_payment")
    assert status == 409
    assert body["code"] == "illegal-transition"
    assert body["detail"] == "You need to change the status to approved first."
    assert body["current_status"] == "received"
    assert "approved" in body["allowed"]
    _, after = await gateway.get(key, f"/v1/documents/{doc}")
    assert after["status"] == "received" and len(after["history"]) == 1  # nothing changed

    for target in ("under_review", "approved", "approved_for_payment"):
        status, body = await _status(gateway, key, doc, target, f"step {target}")
        assert status == 200, body
        assert body["status"] == target

    status, body = await _status(gateway, key, doc, "received")
    assert status == 409 and "back to received" in body["detail"]
    status, body = await _status(gateway, key, doc, "no_such_status")
    assert status == 409 and "not a status" in body["detail"]

    status, body = await _status(gateway, key, doc, "paid", "bank statement 42")
    assert status == 200
    status, body = await _status(gateway, key, doc, "rejected")
    assert status == 409 and body["detail"] == "The document is paid; paid is a final status."

    _, final = await gateway.get(key, f"/v1/documents/{doc}")
    assert [(h["from"], h["to"]) for h in final["history"]] == [
        (None, "received"),
        ("received", "under_review"),
        ("under_review", "approved"),
        ("approved", "approved_for_payment"),
        ("approved_for_payment", "paid"),
    ]
    paid = final["history"][-1]
    assert paid["source"] == "api" and paid["reason"] == "bank statement 42"
    assert paid["actor"].startswith("key:")
    assert final["next_statuses"] == []


async def test_history_is_append_only_in_the_database(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme")
    await gateway.submit(key, ubl)
    for stmt in ("UPDATE status_history SET reason = 'forged'", "DELETE FROM status_history"):
        try:
            async with gateway.db.write() as s:
                await s.execute(text(stmt))
        except Exception as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{stmt} was allowed")


async def test_mark_original_flow(gateway: Gateway, ubl: bytes, cii: bytes) -> None:
    user = await gateway.key("acme", "submit", "read", "status")
    admin = await gateway.key("acme", "admin")
    _, original = await gateway.submit(user, ubl)
    _, dup = await gateway.submit(user, cii)
    assert dup["status"] == "duplicate"

    status, body = await _status(gateway, user, dup["id"], "approved")
    assert status == 409 and "mark-original" in body["detail"]

    path = f"/v1/admin/documents/{dup['id']}/mark-original"
    status, body = await gateway.post_json(admin, path, {})
    assert status == 422 and body["code"] == "reason-required"

    status, body = await gateway.post_json(admin, path, {"reason": "credit note, not a copy"})
    assert status == 200, body
    assert body["status"] == "received" and body["duplicate_of"] is None
    assert body["was_duplicate_of"] == original["id"]

    _, doc = await gateway.get(user, f"/v1/documents/{dup['id']}")
    last = doc["history"][-1]
    assert (last["from"], last["to"], last["source"]) == ("duplicate", "received", "admin")
    assert last["actor"].startswith("key:") and "credit note, not a copy" in last["reason"]
    _, inbox = await gateway.get(user, "/v1/inbox")
    assert [i["document"]["id"] for i in inbox["items"]] == [original["id"], dup["id"]]

    # Marking a non-duplicate is refused, clearly, and changes nothing.
    status, body = await gateway.post_json(
        admin, f"/v1/admin/documents/{original['id']}/mark-original", {"reason": "oops"}
    )
    assert status == 409 and body["code"] == "not-a-duplicate"
    assert "this document is received" in body["detail"]
    # The first original still holds the claims: a third copy is its duplicate.
    _, third = await gateway.submit(user, ubl)
    assert third["duplicate_of"] == original["id"]


async def test_inbox_pull_with_cursor_acknowledges(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme")
    ids = []
    for n in range(3):
        _, created = await gateway.submit(key, gateway.renumber(ubl, f"INBOX-{n}"))
        ids.append(created["id"])
    await gateway.submit(key, gateway.invalid(ubl))  # never in the inbox

    status, page = await gateway.get(key, "/v1/inbox?limit=2")
    assert status == 200
    assert [i["document"]["id"] for i in page["items"]] == ids[:2]
    assert page["items"][0]["content_url"] == f"/v1/documents/{ids[0]}/content"
    cursor = page["next_cursor"]
    _, doc = await gateway.get(key, f"/v1/documents/{ids[0]}")
    assert doc["status"] == "received"  # not acknowledged yet

    _, page = await gateway.get(key, f"/v1/inbox?cursor={cursor}")
    assert [i["document"]["id"] for i in page["items"]] == ids[2:]
    for acked in ids[:2]:
        _, doc = await gateway.get(key, f"/v1/documents/{acked}")
        assert doc["status"] == "forwarded"
        assert doc["history"][-1]["source"] == "inbox"
    _, doc = await gateway.get(key, f"/v1/documents/{ids[2]}")
    assert doc["status"] == "received"

    _, page = await gateway.get(key, f"/v1/inbox?cursor={page['next_cursor']}")
    assert page["items"] == []


async def test_inbox_refuses_bad_parameters_and_acknowledges_nothing(
    gateway: Gateway, ubl: bytes
) -> None:
    key = await gateway.key("acme")
    _, created = await gateway.submit(key, gateway.renumber(ubl, "INBOX-PARAMS"))
    _, page = await gateway.get(key, "/v1/inbox")
    cursor = page["next_cursor"]
    for query, name, code in [
        (f"cursor={cursor}&limit=0", "limit", "invalid-parameter"),
        (f"cursor={cursor}&limit=500", "limit", "invalid-parameter"),
        ("cursor=last", "cursor", "invalid-parameter"),
        (f"cursr={cursor}", "cursr", "unknown-parameter"),
    ]:
        status, body = await gateway.get(key, f"/v1/inbox?{query}")
        assert status == 400, (query, body)
        assert (body["code"], body["parameter"]) == (code, name), query
    _, doc = await gateway.get(key, f"/v1/documents/{created['id']}")
    assert doc["status"] == "received"  # a refused request acknowledged nothing


async def test_webhook_forwarding_signed_with_retries(
    gateway: Gateway, ubl: bytes, cii: bytes, aiohttp_server: Any
) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    notices: list[dict[str, Any]] = []
    calls = 0
    done = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        nonlocal calls
        body = await request.read()
        if request.headers["X-Gateway-Event"] != "document.received":
            notices.append(json.loads(body))
            return web.Response(status=204)
        calls += 1
        if calls <= 2:
            return web.Response(status=503, text="accounting system busy")
        received.append((body, dict(request.headers)))
        done.set()
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver, host="127.0.0.1", port=0)
    async with gateway.db.write() as s:
        secret = await repo.set_webhook(s, "acme", str(server.make_url("/hook")))
    assert secret

    key = await gateway.key("acme")
    _, created = await gateway.submit(key, ubl)
    _, dup = await gateway.submit(key, cii)  # a duplicate: never forwarded
    _, bad = await gateway.submit(key, gateway.invalid(gateway.renumber(ubl, "X1")))
    await asyncio.wait_for(done.wait(), 15)

    for _ in range(100):  # the delivery row is finished right after the 2xx
        _, doc = await gateway.get(key, f"/v1/documents/{created['id']}")
        if doc["status"] == "forwarded":
            break
        await asyncio.sleep(0.05)
    assert doc["status"] == "forwarded"
    assert doc["history"][-1]["source"] == "webhook"
    (delivery,) = doc["deliveries"]
    assert delivery["state"] == "delivered"
    assert [a["http_status"] for a in delivery["attempts"]] == [503, 503, 204]
    assert delivery["attempts"][0]["error"] == "HTTP 503"

    ((body, headers),) = received
    assert verify(secret, headers[SIGNATURE_HEADER], body)
    assert not verify("wrong-secret", headers[SIGNATURE_HEADER], body)
    assert not verify(secret, headers[SIGNATURE_HEADER], body + b" ")
    payload = json.loads(body)
    assert payload["event"] == "document.received"
    assert payload["document"]["id"] == created["id"]
    assert base64.b64decode(payload["content_base64"]) == ubl
    assert headers["X-Gateway-Document-Id"] == created["id"]

    await asyncio.sleep(0.3)
    assert calls == 3  # the duplicate and the invalid document were not forwarded
    _, doc = await gateway.get(key, f"/v1/documents/{bad['id']}")
    assert doc["deliveries"] == []
    # The duplicate is announced (event type document.duplicate), without its content.
    _, doc = await gateway.get(key, f"/v1/documents/{dup['id']}")
    assert [d["event"] for d in doc["deliveries"]] == ["document.duplicate"]
    (notice,) = notices
    assert notice["event"] == "document.duplicate" and "content_base64" not in notice
    assert notice["document"]["duplicate_of"] == created["id"]


async def test_webhook_gives_up_after_max_attempts(
    gateway: Gateway, ubl: bytes, aiohttp_server: Any
) -> None:
    async def hook(request: web.Request) -> web.Response:
        return web.Response(status=500)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver, host="127.0.0.1", port=0)
    async with gateway.db.write() as s:
        await repo.set_webhook(s, "acme", str(server.make_url("/hook")))
    key = await gateway.key("acme")
    _, created = await gateway.submit(key, ubl)
    for _ in range(200):
        _, doc = await gateway.get(key, f"/v1/documents/{created['id']}")
        if doc["deliveries"] and doc["deliveries"][0]["state"] != "pending":
            break
        await asyncio.sleep(0.05)
    (delivery,) = doc["deliveries"]
    assert delivery["state"] == "failed"
    assert len(delivery["attempts"]) == 4  # webhooks.max_attempts in the test settings
    assert doc["status"] == "received"  # still waiting in the pull inbox


async def test_network_channel_routing_by_receiver_participant(
    gateway: Gateway, ubl: bytes
) -> None:
    intake = gateway.app[INTAKE]
    unroutable = await intake.submit(Submission(raw=ubl, channel="as4"))
    assert unroutable.status == "unroutable" and unroutable.tenant is None

    async with gateway.db.write() as s:
        await repo.add_participant(s, "acme", "EM:Buyer@Info.de")  # case-insensitive
    routed = await intake.submit(Submission(raw=ubl, channel="as4", metadata={"msg": "m1"}))
    assert routed.status == "received" and routed.tenant == "acme"
    # The same invoice over the REST API of the same tenant: a cross-channel duplicate.
    key = await gateway.key("acme")
    _, via_api = await gateway.submit(key, ubl)
    assert via_api["status"] == "duplicate" and via_api["duplicate_of"] == routed.document_id

    _, doc = await gateway.get(key, f"/v1/documents/{routed.document_id}")
    assert doc["channel"] == "as4" and doc["metadata"] == {"msg": "m1"}
    status, _ = await gateway.get(key, f"/v1/documents/{unroutable.document_id}")
    assert status == 404  # belongs to no tenant
    async with gateway.db.read() as s:
        stored = await repo.get_document(s, unroutable.document_id, None)
    assert "em:buyer@info.de" in stored.status_reason.lower()
