"""A gateway on loopback whose ``[email_out]`` points at a real relay (aiosmtpd, STARTTLS+AUTH)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import repo
from gateway.web import DB
from tests.mail.relay import PASSWORD, USER, Relay, start_relay
from tests.waiting import until_value

XR = "xrechnung-testsuite/business-cases/standard/"
FROM = "billing@seller.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MailGateway:
    url: str
    http: aiohttp.ClientSession
    app: Any
    relay: Relay
    smtp_port: int
    key: dict[str, str]

    async def send(self, raw: bytes, *parts: tuple[str, str, bytes]) -> str:
        """``POST /v1/outbound`` as multipart: the XML, then ``(filename, type, data)`` parts."""
        form = aiohttp.FormData()
        form.add_field("document", raw, filename="invoice.xml", content_type="application/xml")
        for name, ctype, data in parts:
            form.add_field("file", data, filename=name, content_type=ctype)
        async with self.http.post(self.url + "/v1/outbound", data=form, headers=self.key) as r:
            body = await r.json()
            assert r.status == 202, body
            return str(body["id"])

    async def item(self, doc_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/v1/outbound/{doc_id}", headers=self.key) as r:
            assert r.status == 200
            return dict(await r.json())

    async def document(self, doc_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/v1/documents/{doc_id}", headers=self.key) as r:
            assert r.status == 200
            return dict(await r.json())

    async def wait_state(self, doc_id: str, *states: str, timeout: float = 120.0) -> dict[str, Any]:
        item: dict[str, Any] = await until_value(
            lambda: self.item(doc_id),
            lambda item: item["status"] in states,
            timeout,
            f"outbound item {doc_id} in {' or '.join(states)}",
            interval=0.1,
        )
        return item


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    relay, server = await start_relay(tmp_path)
    yield relay
    server.close()
    await server.wait_closed()


def mail_settings(tmp_path: Path, installed_data_dir: Path, relay: Relay, **extra: Any) -> Any:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    link = data / "artefacts"
    if not link.exists():
        link.symlink_to((installed_data_dir / "artefacts").resolve())
    overrides: dict[str, Any] = {
        "data_dir": str(data),
        "smtp": {"port": free_port()},
        "email_out": {
            "host": "127.0.0.1",
            "port": relay.port,
            "security": "starttls",
            "username": USER,
            "password": PASSWORD,
            "from_address": FROM,
            "ca_file": relay.ca_file,
            "timeout": 20.0,
        },
        "outbound": {
            "retry_initial": 0.05,
            "retry_max": 0.2,
            "poll_interval": 0.05,
            "max_attempts": 5,
            "lease_seconds": 120.0,
        },
    }
    overrides.update(extra)
    return load_settings(env={}, overrides=overrides)


@pytest.fixture
async def mail_gateway(
    tmp_path: Path, installed_data_dir: Path, validator: Any, relay: Relay, aiohttp_server: Any
) -> AsyncIterator[MailGateway]:
    settings = mail_settings(tmp_path, installed_data_dir, relay)
    app = create_app(settings, validator=validator)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    async with app[DB].write() as s:
        _, key = await repo.create_api_key(s, "acme", ("submit", "read"))
    async with aiohttp.ClientSession() as http:
        yield MailGateway(
            str(server.make_url("")).rstrip("/"),
            http,
            app,
            relay,
            settings.smtp.port,
            {"Authorization": f"Bearer {key}"},
        )


@pytest.fixture
def invoice(corpus_dir: Path) -> bytes:
    """XRechnung 01.01a: invoice 123456XX, buyer endpoint ``EM:buyer@info.de``."""
    return (corpus_dir / XR / "01.01a-INVOICE_ubl.xml").read_bytes()
