"""POST /v1/outbound and the admin requeue through the real app, validator and SQLite."""

from __future__ import annotations

import re

from tests.outbound.conftest import Receiver, auth
from tests.waiting import until_value


async def wait_status(client, doc_id: str, status: str) -> dict:  # type: ignore[no-untyped-def]
    async def item() -> dict:
        resp = await client.get(f"/v1/outbound/{doc_id}", headers=auth(client))
        return dict(await resp.json())

    body: dict = await until_value(
        item, lambda body: body["status"] == status, 10, f"{doc_id} to reach {status}"
    )
    return body


async def test_submit_deliver_idempotency_and_refusals(
    client, receiver: Receiver, invoice: bytes
) -> None:
    headers = {**auth(client), "Idempotency-Key": "order-42", "Content-Type": "application/xml"}
    resp = await client.post("/v1/outbound", data=invoice, headers=headers)
    assert resp.status == 202, await resp.text()
    first = await resp.json()
    assert first["status"] == "queued"
    body = await wait_status(client, first["id"], "delivered")
    assert body["attempt_log"][0]["outcome"] == "delivered"
    assert receiver.message_ids == [first["message_id"]]

    again = await client.post("/v1/outbound", data=invoice, headers=headers)
    assert again.status == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == first["id"]
    assert len(receiver.received) == 1  # nothing new queued or sent

    # The real example with its mandatory IssueDate removed: schema + EN 16931 errors.
    bad = re.sub(rb"<cbc:IssueDate>[^<]*</cbc:IssueDate>", b"", invoice, count=1)
    resp = await client.post("/v1/outbound", data=bad, headers=auth(client))
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["code"] == "invalid-document" and problem["report"]["status"] == "rejected"

    resp = await client.post("/v1/outbound", data=b"<oops", headers=auth(client))
    assert resp.status == 422 and (await resp.json())["code"] == "not-well-formed"

    resp = await client.post("/v1/outbound", data=invoice, headers=auth(client, "other"))
    assert resp.status == 202  # another tenant may send the same document
    resp = await client.get(f"/v1/outbound/{first['id']}", headers=auth(client, "other"))
    assert resp.status == 404  # but cannot see ours

    resp = await client.get("/metrics")
    lines = (await resp.text()).splitlines()
    assert any(line.startswith('gateway_outbound_queue_depth{state="delivered"}') for line in lines)


async def test_failed_then_admin_requeue(client, receiver: Receiver, invoice: bytes) -> None:
    receiver.mode = "reject"
    resp = await client.post("/v1/outbound", data=invoice, headers=auth(client))
    doc_id = (await resp.json())["id"]
    failed = await wait_status(client, doc_id, "failed")
    assert failed["last_error_code"] == "http-400"

    resp = await client.post(f"/v1/admin/outbound/{doc_id}/requeue", headers=auth(client))
    assert resp.status == 403  # submit/read key is not admin
    resp = await client.post(f"/v1/admin/outbound/{doc_id}/requeue", headers=auth(client, "other"))
    assert resp.status == 404  # other tenant's admin
    receiver.mode = "ok"
    resp = await client.post(f"/v1/admin/outbound/{doc_id}/requeue", headers=auth(client, "admin"))
    assert resp.status == 200 and (await resp.json())["status"] == "queued"
    done = await wait_status(client, doc_id, "delivered")
    assert [a["outcome"] for a in done["attempt_log"]] == ["permanent", "delivered"]
    resp = await client.post(f"/v1/admin/outbound/{doc_id}/requeue", headers=auth(client, "admin"))
    assert resp.status == 409 and (await resp.json())["code"] == "not-requeueable"


async def test_list_outbound_with_filters(client, receiver: Receiver, invoice: bytes) -> None:
    receiver.mode = "reject"
    resp = await client.post("/v1/outbound", data=invoice, headers=auth(client))
    failed_id = (await resp.json())["id"]
    await wait_status(client, failed_id, "failed")
    receiver.mode = "ok"
    second = re.sub(rb"<cbc:ID>[^<]*</cbc:ID>", b"<cbc:ID>LIST-2</cbc:ID>", invoice, count=1)
    resp = await client.post("/v1/outbound", data=second, headers=auth(client))
    ok_id = (await resp.json())["id"]
    await wait_status(client, ok_id, "delivered")
    resp = await client.post("/v1/outbound", data=invoice, headers=auth(client, "other"))
    assert resp.status == 202

    async def ids(query: str, who: str = "submit") -> list[str]:
        resp = await client.get(f"/v1/outbound?{query}", headers=auth(client, who))
        assert resp.status == 200, await resp.text()
        return [i["id"] for i in (await resp.json())["items"]]

    assert await ids("") == [failed_id, ok_id]  # the other tenant's item is not listed
    assert await ids("status=failed") == [failed_id]
    assert await ids("status=delivered") == [ok_id]
    resp = await client.get("/v1/outbound?limit=1", headers=auth(client))
    page = await resp.json()
    assert [i["id"] for i in page["items"]] == [failed_id]
    assert page["items"][0]["last_error_code"] == "http-400"
    assert page["items"][0]["created_at"].endswith("Z")  # ISO 8601 with a time zone
    assert await ids(f"cursor={page['next_cursor']}") == [ok_id]
    receiver_id = page["items"][0]["receiver"]
    assert await ids(f"receiver={receiver_id}") == [failed_id, ok_id]
    for query, name in [("status=lost", "status"), ("state=failed", "state")]:
        resp = await client.get(f"/v1/outbound?{query}", headers=auth(client))
        assert resp.status == 400 and (await resp.json())["parameter"] == name
