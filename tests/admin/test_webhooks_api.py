"""Webhook management on a real gateway: set (the secret once), event types, the signed test
event against a real receiver on loopback, redelivery, tenant isolation, attempts counted."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.forwarding import SIGNATURE_HEADER, verify
from tests.hook_receiver import Hook, hook_receiver
from tests.waiting import until

if TYPE_CHECKING:
    from tests.admin.conftest import Admins

HOOK = "/v1/admin/tenants/acme/webhook"


@pytest.fixture
async def receiver(aiohttp_server: Any) -> Hook:
    """A webhook receiver on loopback answering 200 (then ``receiver.status``)."""
    return await hook_receiver(aiohttp_server, status=200)


async def _attempts(admins: Admins) -> dict[tuple[str, str], float]:
    async with admins.gw.http.get(admins.gw.url + "/metrics") as resp:
        text = await resp.text()
    return {
        (s.labels["kind"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "gateway_webhook_attempts_total"
    }


async def test_set_shows_the_secret_once_and_isolates_tenants(admins: Admins) -> None:
    gw = admins.gw
    status, body = await gw.call(
        "PUT", admins.acme, HOOK, json={"url": "https://erp.example/hook", "secret": "s" * 20}
    )
    assert status == 200 and body["secret"] == "s" * 20 and body["events"] is None
    status, shown = await gw.call("GET", admins.acme, HOOK)
    assert shown == {
        "tenant": "acme",
        "url": "https://erp.example/hook",
        "events": None,
        "secret_set": True,
    }
    _, tenant = await gw.call("GET", admins.operator, "/v1/admin/tenants/acme")
    assert "s" * 20 not in str(tenant)
    for bad, code in (
        ({"url": "ftp://x"}, "invalid-webhook-url"),
        ({"url": "https://x", "secret": "short"}, "invalid-webhook-secret"),
        ({"url": "https://x", "events": ["document.nope"]}, "invalid-webhook-events"),
        ({"url": "https://x", "colour": "red"}, "invalid-request"),
    ):
        status, body = await gw.call("PUT", admins.acme, HOOK, json=bad)
        assert status == 422 and body["code"] == code, body
    # beta's admin can neither see, set, clear nor test acme's webhook.
    for method, json in (
        ("GET", None),
        ("PUT", {"url": "https://evil.example/"}),
        ("DELETE", None),
    ):
        status, _ = await gw.call(method, admins.beta, HOOK, json=json)
        assert status == 404
    assert (await gw.call("POST", admins.beta, f"{HOOK}/test"))[0] == 404
    assert (await gw.call("GET", admins.acme, HOOK))[1] == shown  # unchanged
    status, body = await gw.call("DELETE", admins.acme, HOOK)
    assert status == 200 and body["url"] is None and not body["secret_set"]


async def test_test_event_is_signed_and_reports_the_answer(admins: Admins, receiver: Hook) -> None:
    gw = admins.gw
    status, body = await gw.call("POST", admins.acme, f"{HOOK}/test")
    assert status == 409 and body["code"] == "no-webhook"
    _, hook = await gw.call("PUT", admins.acme, HOOK, json={"url": receiver.url})
    status, result = await gw.call("POST", admins.acme, f"{HOOK}/test")
    assert status == 200 and result["delivered"] and result["status"] == 200, result
    headers, raw = receiver.headers[-1], receiver.got[-1]
    assert verify(hook["secret"], headers[SIGNATURE_HEADER], raw)
    assert headers["X-Gateway-Event"] == "webhook.test" and b'"tenant": "acme"' in raw
    receiver.status = 500
    status, result = await gw.call("POST", admins.operator, f"{HOOK}/test")
    assert status == 200 and not result["delivered"]
    assert result["status"] == 500 and result["error"] == "HTTP 500"
    await gw.call("PUT", admins.acme, HOOK, json={"url": "http://127.0.0.1:9/closed"})
    status, result = await gw.call("POST", admins.acme, f"{HOOK}/test")
    assert status == 200 and not result["delivered"] and result["status"] is None
    assert result["error"]


async def test_redeliver_and_attempts_are_counted(admins: Admins, receiver: Hook) -> None:
    gw = admins.gw
    await gw.call("PUT", admins.acme, HOOK, json={"url": receiver.url})
    before = await _attempts(admins)
    doc = await gw.receive(admins.acme, gw.base_invoice)
    await until(lambda: len(receiver.got) == 1, 15)
    body = await gw.wait_status(admins.acme, doc["id"], "forwarded")
    (delivery,) = body["deliveries"]
    assert (await gw.call("POST", admins.beta, f"/v1/admin/deliveries/{delivery['id']}/redeliver"))[
        0
    ] == 404
    assert (await gw.call("POST", admins.acme, "/v1/admin/deliveries/999999/redeliver"))[0] == 404
    assert (await gw.call("POST", admins.acme, "/v1/admin/deliveries/x1/redeliver"))[0] == 404
    # A digit int() refuses though str.isdigit() accepts it (schemathesis found the 500).
    assert (await gw.call("POST", admins.acme, "/v1/admin/deliveries/%C2%B3/redeliver"))[0] == 404
    status, again = await gw.call(
        "POST", admins.acme, f"/v1/admin/deliveries/{delivery['id']}/redeliver"
    )
    assert status == 202 and again["redelivers"] == delivery["id"], again
    assert again["delivery"] != delivery["id"] and again["event"] == "document.received"
    await until(lambda: len(receiver.got) == 2, 15)
    first, second = (h["X-Gateway-Delivery"] for h in receiver.headers)
    assert (first, second) == (str(delivery["id"]), str(again["delivery"]))
    receiver.status = 503
    status, _ = await gw.call(
        "POST", admins.operator, f"/v1/admin/deliveries/{delivery['id']}/redeliver"
    )
    assert status == 202
    await until(lambda: len(receiver.got) >= 3, 15)
    await asyncio.sleep(0.2)
    after = await _attempts(admins)
    assert after[("http", "ok")] - before.get(("http", "ok"), 0) == 2
    assert after[("http", "http_5xx")] - before.get(("http", "http_5xx"), 0) >= 1


async def test_event_types_limit_what_is_sent(admins: Admins, receiver: Hook) -> None:
    gw = admins.gw
    status, body = await gw.call(
        "PUT", admins.acme, HOOK, json={"url": receiver.url, "events": ["document.status_changed"]}
    )
    assert status == 200 and body["events"] == ["document.status_changed"]
    doc = await gw.receive(admins.acme, gw.base_invoice)
    status, _ = await gw.call(
        "POST", admins.acme, f"/v1/documents/{doc['id']}/status", json={"status": "approved"}
    )
    assert status == 200
    await until(lambda: len(receiver.got) >= 1, 15)
    events = [h["X-Gateway-Event"] for h in receiver.headers]
    assert "document.received" not in events and "document.status_changed" in events
    _, inbox = await gw.call("GET", admins.acme, "/v1/inbox")
    assert doc["id"] in str(inbox)  # the pull inbox still lists the new document
