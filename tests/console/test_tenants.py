"""Tenant management in the console, through gateway.admin's functions (the API's and the CLI's):
keys (the secret shown once, revoke), participants, webhook (set, test, redeliver), profile."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import lxml.html

from gateway.store import repo
from tests.console.console_support import numbered
from tests.live_gateway import Stub, start_stub


def secret_of(html: str) -> str:
    return lxml.html.fromstring(html).xpath('//code[@id="secret"]')[0].text_content()


async def test_admin_creates_and_revokes_a_key_of_its_own_tenant_only(
    gw: Any, console_for: Any
) -> None:
    admin = await gw.key("acme")
    await gw.key("globex")
    c = console_for(gw)
    await c.sign_in(admin)
    status, html = await c.act(
        "/tenants/acme/keys", {"scopes": "read", "label": "erp reader"}, page="/tenants"
    )
    assert status == 200 and "shown <b>this once</b>" in html
    new = secret_of(html)
    assert re.fullmatch(r"gw_[0-9a-f]{12}_\S{40,}", new)
    assert (await gw.call("GET", new, "/v1/documents"))[0] == 200
    page = (await c.get("/tenants"))[1]
    assert new.split("_", 2)[2] not in page and "erp reader" in page
    # The new read key signs in; revoking it ends that session too.
    reader = console_for(gw)
    assert (await reader.sign_in(new)).status == 303
    key_id = new.split("_")[1]
    status, _ = await c.act(f"/tenants/acme/keys/{key_id}/revoke", {}, page="/tenants")
    assert status == 303
    assert (await gw.call("GET", new, "/v1/documents"))[0] == 401
    assert (await reader.get("/"))[0] == 303
    # Another tenant, an operator grant: refused, nothing made.
    for path, data, code in (
        ("/tenants/globex/keys", {"scopes": "admin"}, 404),
        ("/tenants/acme/keys", {"scopes": "read", "operator": "on"}, 403),
        ("/tenants/globex/webhook", {"url": "https://evil.example/"}, 404),
        ("/tenants/acme/participants", {"participant": "0088:123"}, 403),
    ):
        status, _ = await c.act(path, data, page="/tenants")
        assert status == code, path
    async with gw.db.read() as s:
        assert len(await repo.list_api_keys(s, "globex")) == 1
        assert await repo.list_participants(s, "acme") == []


async def test_operator_creates_a_tenant_and_assigns_a_participant(
    gw: Any, console_for: Any, corpus_dir: Any
) -> None:
    from gateway.inbound import Submission
    from gateway.web import INTAKE

    raw = (
        corpus_dir / "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"
    ).read_bytes()
    stranded = await gw.app[INTAKE].submit(Submission(raw, "email", None))
    async with gw.db.write() as s:
        _, operator = await repo.create_api_key(s, "provider", [], operator=True)
    c = console_for(gw)
    await c.sign_in(operator)
    assert (await c.act("/tenants/create", {"name": "initech"}, page="/tenants"))[0] == 303
    status, _ = await c.act(
        "/tenants/initech/participants", {"participant": "EM:buyer@info.de"}, page="/tenants"
    )
    assert status == 303
    html = (await c.get("/tenants"))[1]
    assert "em:buyer@info.de" in html.lower()
    async with gw.db.read() as s:
        doc = await repo.get_document(s, stranded.document_id, None)
    assert doc.tenant == "initech" and doc.status == "received"  # routed by the same function
    status, _ = await c.act(
        "/tenants/initech/participants/remove", {"participant": "EM:buyer@info.de"}, page="/tenants"
    )
    assert status == 303
    async with gw.db.read() as s:
        assert await repo.list_participants(s, "initech") == []


async def test_webhook_set_tested_and_a_delivery_redelivered(gw: Any, console_for: Any) -> None:
    hook = Stub()
    runner = await start_stub(hook)
    try:
        admin = await gw.key("acme")
        c = console_for(gw)
        await c.sign_in(admin)
        status, html = await c.act(
            "/tenants/acme/webhook", {"url": hook.url + "/hook"}, page="/tenants"
        )
        assert status == 200 and len(secret_of(html)) >= 32
        status, html = await c.act("/tenants/acme/webhook/test", {}, page="/tenants")
        assert status == 200 and hook.bodies, html
        doc = await gw.receive(admin, numbered(gw.base_invoice, "HOOK-1"))
        body = await gw.wait_status(admin, doc["id"], "forwarded")
        [delivery] = body["deliveries"]
        page = f"/documents/{doc['id']}"
        html = (await c.get(page))[1]
        assert 'class="redeliver"' in html
        before = len(hook.bodies)
        status, _ = await c.act(
            f"/documents/{doc['id']}/redeliver", {"delivery": str(delivery["id"])}, page=page
        )
        assert status == 303
        for _ in range(100):
            if (
                len((await gw.doc(admin, doc["id"]))["deliveries"]) == 2
                and len(hook.bodies) > before
            ):
                break
            await asyncio.sleep(0.05)
        assert len((await gw.doc(admin, doc["id"]))["deliveries"]) == 2
        assert len(hook.bodies) > before
    finally:
        await runner.cleanup()


async def test_status_profile_is_set_like_the_settings_api(gw: Any, console_for: Any) -> None:
    admin = await gw.key("acme")
    c = console_for(gw)
    await c.sign_in(admin)
    status, _ = await c.act(
        "/tenants/acme/profile",
        {"inbound": "einvoicing-network", "outbound": "ar-api"},
        page="/tenants",
    )
    assert status == 303
    status, body = await gw.call("GET", admin, "/v1/admin/settings")
    assert body["status_profile"] == {"inbound": "einvoicing-network", "outbound": "ar-api"}
    status, html = await c.act(
        "/tenants/acme/profile", {"inbound": "no-such-profile"}, page="/tenants"
    )
    assert status == 422 and "no-such-profile" in html
