"""End to end: the real gateway app (create_app) with its SMTP channel on, real HTTP, SQLite.

An invoice mailed with smtplib must be visible through the REST API with its mail context,
and the same invoice arriving over REST and over e-mail (either order) must give exactly one
original and one duplicate pointing at it.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import repo
from gateway.validation import Validator
from gateway.web import DB
from tests.inbound.email.mailbuild import attach, facturx_pdf, new_mail, send, wire


@dataclass
class Gateway:
    base: str
    smtp_port: int
    key: str
    http: aiohttp.ClientSession

    async def get(self, path: str) -> Any:
        async with self.http.get(self.base + path, headers=self.auth) as resp:
            assert resp.status == 200, await resp.text()
            if resp.content_type == "application/json":
                return await resp.json()
            return await resp.read()

    async def post_xml(self, xml: bytes) -> dict[str, Any]:
        headers = {**self.auth, "Content-Type": "application/xml"}
        async with self.http.post(self.base + "/v1/documents", data=xml, headers=headers) as r:
            assert r.status == 201, await r.text()
            return dict(await r.json())

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def free_port() -> int:
    """An unused loopback port: the app only starts SMTP for a non-zero configured port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def validator(installed_data_dir: Path) -> Iterator[Validator]:
    with Validator(installed_data_dir / "artefacts", jobs=1) as v:
        yield v


@pytest.fixture
async def gateway(
    tmp_path: Path, installed_data_dir: Path, validator: Validator
) -> AsyncIterator[Gateway]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "artefacts").symlink_to(installed_data_dir / "artefacts")
    smtp_port = free_port()
    settings = load_settings(
        env={},
        overrides={
            "data_dir": str(data_dir),
            "http": {"host": "127.0.0.1", "port": 0},
            "smtp": {"host": "127.0.0.1", "port": smtp_port},
        },
    )
    app = create_app(settings, validator=validator)
    runner = web.AppRunner(app)
    await runner.setup()  # runs the lifecycle: migrations, forwarder, SMTP channel
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with app[DB].write() as session:
        await repo.add_participant(session, "acme", "0002:FR23342")
        await repo.add_participant(session, "acme", "EM:rechnungseingang@test.de")
        _, key = await repo.create_api_key(session, "acme", ["submit", "read"])
    try:
        async with aiohttp.ClientSession() as http:
            yield Gateway(f"http://127.0.0.1:{port}", smtp_port, key, http)
    finally:
        await runner.cleanup()


async def test_mailed_invoices_are_visible_through_the_api(
    gateway: Gateway, ubl_bytes: bytes, cii_bytes: bytes
) -> None:
    pdf = facturx_pdf(cii_bytes)
    msg = new_mail("Rechnungen März")
    attach(msg, ubl_bytes, "base-example.xml")
    attach(msg, pdf, "R-1234567.pdf", "application/pdf")

    code, text = await send(gateway.smtp_port, wire(msg))
    assert code == 250, text

    listing = await gateway.get("/v1/documents?channel=email")
    items = {i["sha256"]: i for i in listing["items"]}
    assert set(items) == {repo.sha256_hex(ubl_bytes), repo.sha256_hex(cii_bytes)}
    cii = items[repo.sha256_hex(cii_bytes)]
    assert (cii["status"], cii["channel"], cii["tenant"]) == ("received", "email", "acme")
    assert cii["id"].encode() in text
    assert cii["metadata"]["email"]["subject"] == "Rechnungen März"
    assert cii["metadata"]["email"]["invoice"]["source"] == "pdf"

    detail = await gateway.get(f"/v1/documents/{cii['id']}")
    names = [a["filename"] for a in detail["attachments"]]
    assert names == ["R-1234567.pdf", "original-message.eml"]
    assert detail["attachments"][0]["sha256"] == repo.sha256_hex(pdf)
    assert detail["history"][0]["actor"] == "channel:email"
    assert await gateway.get(f"/v1/documents/{cii['id']}/content") == cii_bytes


async def test_rest_then_email_gives_one_original_and_one_duplicate(
    gateway: Gateway, ubl_bytes: bytes
) -> None:
    posted = await gateway.post_xml(ubl_bytes)
    assert posted["status"] == "received"
    msg = new_mail("Invoice again by mail")
    attach(msg, ubl_bytes, "invoice.xml")

    code, text = await send(gateway.smtp_port, wire(msg))

    assert code == 250 and b"(duplicate)" in text
    items = (await gateway.get("/v1/documents"))["items"]
    assert len(items) == 2
    by_channel = {i["channel"]: i for i in items}
    assert by_channel["email"]["status"] == "duplicate"
    assert by_channel["email"]["duplicate_of"] == posted["id"]
    assert by_channel["api"]["status"] != "duplicate"
    assert by_channel["api"]["duplicate_of"] is None


async def test_email_then_rest_gives_one_original_and_one_duplicate(
    gateway: Gateway, cii_bytes: bytes
) -> None:
    msg = new_mail("Factur-X first")
    attach(msg, facturx_pdf(cii_bytes), "R-1234567.pdf", "application/pdf")
    assert (await send(gateway.smtp_port, wire(msg)))[0] == 250
    (mailed,) = (await gateway.get("/v1/documents?channel=email"))["items"]

    posted = await gateway.post_xml(cii_bytes)

    assert posted["status"] == "duplicate"
    assert posted["duplicate_of"] == mailed["id"]
    again = await gateway.get(f"/v1/documents/{mailed['id']}")
    assert again["status"] == mailed["status"] != "duplicate"
