"""Webhook destinations on a real gateway with the default settings: internal URLs are refused
when set or tested (API, CLI), and a URL that got into the store anyway (set before the check
existed, or a name that re-binds later) gets no request from deliveries: the attempt says why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.store import repo
from tests.hook_receiver import hook_receiver, internal_name
from tests.live_gateway import Gw, factory

GUARDED = {"webhooks": {"allow_private_destinations": False}}  # the default, as shipped


@pytest.fixture
async def gw(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Gw]:
    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        yield await make(settings=GUARDED)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::1]:9000/",
        "http://192.168.0.10/hook",
        "http://localhost/hook",
    ],
)
async def test_setting_an_internal_url_is_refused(gw: Gw, url: str) -> None:
    key = await gw.key("acme", "admin")
    status, problem = await gw.call("PUT", key, "/v1/admin/tenants/acme/webhook", json={"url": url})
    assert status == 422, problem
    assert problem["code"] == "webhook-destination-refused" and problem["url"] == url
    assert "allow_private_destinations" in problem["detail"]
    _, shown = await gw.call("GET", key, "/v1/admin/tenants/acme/webhook")
    assert shown["url"] is None  # nothing was stored


async def test_a_public_looking_url_is_accepted(gw: Gw) -> None:
    key = await gw.key("acme", "admin")
    status, body = await gw.call(
        "PUT", key, "/v1/admin/tenants/acme/webhook", json={"url": "https://erp.invalid/hook"}
    )
    assert status == 200 and body["url"] == "https://erp.invalid/hook"


async def test_a_stored_internal_url_is_neither_tested_nor_delivered_to(
    gw: Gw, aiohttp_server: Any
) -> None:
    receiver = await hook_receiver(aiohttp_server)
    inside = receiver.url.replace("127.0.0.1", internal_name())
    for i, hook in enumerate((receiver.url, inside)):
        async with gw.db.write() as s:  # as if set before the check existed
            await repo.set_webhook(s, "acme", hook)
        key = await gw.key("acme")
        status, problem = await gw.call("POST", key, "/v1/admin/tenants/acme/webhook/test")
        assert status == 422 and problem["code"] == "webhook-destination-refused"
        doc = await gw.receive(key, gw.base_invoice.replace(b"Snippet1", f"DEST-{i}".encode()))
        delivery = await _settled_delivery(gw, key, doc["id"])
        assert delivery["state"] == "failed"
        errors = {a["error"] for a in delivery["attempts"]}
        assert errors and all(
            "webhook destination" in e.lower() and "refused" in e for e in errors
        ), errors
        assert receiver.got == []  # the receiver never heard a thing
        async with gw.db.write() as s:
            await repo.set_webhook(s, "acme", None)


def test_the_cli_refuses_too(tmp_path: Path, capsys: Any) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    args = ["--config", str(cfg), "webhooks", "set", "--tenant", "acme"]
    assert main([*args, "http://169.254.169.254/latest/"]) == 2
    assert "169.254.169.254 is a link-local address" in capsys.readouterr().err
    assert main([*args, "https://erp.invalid/hook"]) == 0


async def _settled_delivery(gw: Gw, key: str, doc_id: str) -> dict[str, Any]:
    for _ in range(200):
        doc = await gw.doc(key, doc_id)
        if doc["deliveries"] and doc["deliveries"][0]["state"] not in ("pending", "retrying"):
            return doc["deliveries"][0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the delivery of {doc_id} never settled: {doc['deliveries']}")
