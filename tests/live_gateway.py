"""A real gateway for end-to-end tests: create_app on loopback, SQLite in tmp (or a given
database URL), the real validator, a loopback stub standing in for the receiving access point
and for webhook receivers, real corpus files.

Shared by the test folders that drive whole gateways through HTTP (``responses``,
``lifecycle``); each folder's conftest exposes :func:`factory` as its ``gw_factory`` fixture.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import Database, repo, upgrade
from gateway.web import DB
from tests.loopback import start
from tests.waiting import until_value

IMR_DIR = "peppol-invoice-response"
BASE_INVOICE = "peppol-bis-examples/base-example.xml"
#: The parties of the test invoices (a seller and a buyer with Peppol endpoint ids).
SELLER = "0196:6841569459"
BUYER = "0196:6963495890"


def invoice_response(
    code: str,
    imr_id: str,
    number: str,
    *,
    sender: str = BUYER,
    receiver: str = SELLER,
    issue_date: str = "2024-03-01",
) -> bytes:
    """A generated Peppol Invoice Response (the buyer answering the seller's ``number``)."""
    from gateway.documents import Party
    from gateway.responses import ResponseContent, build_response

    return build_response(
        ResponseContent(
            imr_id=imr_id,
            issue_date=issue_date,
            code=code,
            sender=Party(endpoint=sender, name="Buyer organization"),
            receiver=Party(endpoint=receiver, name="Seller company"),
            invoice_number=number,
            invoice_type_code="380",
            reason_code="OTH" if code in ("UQ", "RE") else None,
            effective_date=issue_date if code == "PD" else None,
        )
    )


def sales_invoice(
    base: bytes,
    *,
    number: str,
    seller: str,
    buyer: str,
    issue_date: str | None = None,
    due_date: str | None = None,
) -> bytes:
    """The Peppol BIS base example rewritten to ``number`` / seller / buyer endpoint ids."""
    out = base.replace(b"<cbc:ID>Snippet1</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)
    for old, new in (
        ((b"0088", b"9482348239847239874"), seller),
        ((b"0002", b"FR23342"), buyer),
    ):
        scheme, ident = new.split(":", 1)
        out = out.replace(
            b'<cbc:EndpointID schemeID="%s">%s</cbc:EndpointID>' % old,
            f'<cbc:EndpointID schemeID="{scheme}">{ident}</cbc:EndpointID>'.encode(),
            1,
        )
    if issue_date:
        out = re.sub(
            rb"<cbc:IssueDate>2017-11-13</cbc:IssueDate>",
            f"<cbc:IssueDate>{issue_date}</cbc:IssueDate>".encode(),
            out,
            count=1,
        )
    if due_date:
        out = re.sub(
            rb"<cbc:DueDate>[^<]*</cbc:DueDate>",
            f"<cbc:DueDate>{due_date}</cbc:DueDate>".encode(),
            out,
            count=1,
        )
    return out


@dataclass
class Stub:
    """A loopback HTTP endpoint: the 'access point' the outbound queue delivers to, and a
    webhook receiver. Keeps every body."""

    url: str = ""
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    #: What it answers (a test makes it 503 to keep an outbound item in the queue).
    status: int = 202


async def start_stub(stub: Stub) -> web.AppRunner:
    async def handle(request: web.Request) -> web.Response:
        stub.bodies.append(await request.read())
        stub.headers.append(dict(request.headers))
        return web.Response(status=stub.status, text="ok")

    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", handle)
    runner, stub.url = await start(app)
    return runner


@dataclass
class Gw:
    app: Any
    url: str
    http: aiohttp.ClientSession
    ap: Stub  # the receiving access point of every outbound document
    base_invoice: bytes

    @property
    def db(self) -> Database:
        return self.app[DB]

    async def key(self, tenant: str, *scopes: str) -> str:
        async with self.db.write() as s:
            _, plaintext = await repo.create_api_key(
                s, tenant, scopes or ("submit", "read", "status", "admin")
            )
        return plaintext

    async def participant(self, tenant: str, pid: str) -> None:
        async with self.db.write() as s:
            await repo.add_participant(s, tenant, pid)

    async def call(
        self, method: str, key: str, path: str, *, json: Any = None, xml: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key}"}
        if xml is not None:
            headers["Content-Type"] = "application/xml"
        async with self.http.request(
            method, self.url + path, json=json, data=xml, headers=headers
        ) as resp:
            if resp.content_type in ("application/json", "application/problem+json"):
                return resp.status, await resp.json(content_type=None)
            return resp.status, await resp.read()

    async def doc(self, key: str, doc_id: str) -> dict[str, Any]:
        status, body = await self.call("GET", key, f"/v1/documents/{doc_id}")
        assert status == 200, body
        return body

    async def send_invoice(self, key: str, raw: bytes) -> str:
        """Submit a sales invoice through POST /v1/outbound and wait until it is delivered."""
        status, body = await self.call("POST", key, "/v1/outbound", xml=raw)
        assert status == 202, body
        await self.wait_status(key, body["id"], "delivered")
        return body["id"]

    async def receive(self, key: str, raw: bytes) -> dict[str, Any]:
        """A document arriving for the key's tenant (the REST channel of the intake pipeline)."""
        status, body = await self.call("POST", key, "/v1/documents", xml=raw)
        assert status == 201, body
        return body

    async def hand_in_response(self, key: str, raw: bytes) -> dict[str, Any]:
        """A response handed in over REST by the invoice's seller. REST proves nothing about
        the buyer, so it is held; the seller's admin vouches for it (as an operator would after
        checking), which applies it like a response that came with proof."""
        stored = await self.receive(key, raw)
        resp = (await self.doc(key, stored["id"])).get("invoice_response")
        if resp is not None and resp["state"] == "held":
            status, body = await self.call(
                "POST", key, f"/v1/admin/responses/{resp['id']}/apply", json={}
            )
            assert status == 200, body
        return stored

    async def wait_status(self, key: str, doc_id: str, wanted: str, timeout: float = 10) -> dict:
        body: dict[str, Any] = await until_value(
            lambda: self.doc(key, doc_id),
            lambda body: wanted in (body["status"], body.get("canonical_status")),
            timeout,
            f"{doc_id} to reach {wanted}",
            show=lambda body: str(body["status"]),
        )
        return body


def settings_for(
    tmp_path: Path, ap_url: str, extra: dict[str, Any] | None = None, **responses: Any
) -> Any:
    overrides: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "outbound": {"poll_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.1},
        "routes": [{"participant": "*", "url": ap_url + "/ap"}],
        # The webhook receivers of these tests listen on loopback.
        "webhooks": {
            "retry_initial": 0.05,
            "retry_max": 0.2,
            "max_attempts": 3,
            "allow_private_destinations": True,
        },
        "responses": {"rematch_interval": 0, **responses},
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(overrides.get(key), dict):
            overrides[key] = {**overrides[key], **value}
        else:
            overrides[key] = value
    return load_settings(env={}, overrides=overrides)


@asynccontextmanager
async def factory(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Callable[..., Awaitable[Gw]]]:
    """Build gateways on demand (``await make(**responses_settings)``); ``settings=`` overrides
    other sections (e.g. ``{"database_url": ...}``)."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []
    base = (corpus_dir / BASE_INVOICE).read_bytes()

    async def make(*, settings: dict[str, Any] | None = None, **responses: Any) -> Gw:
        ap = Stub()
        runners.append(await start_stub(ap))
        sub = tmp_path / f"gw{len(runners)}"
        conf = settings_for(sub, ap.url, settings or {}, **responses)
        if conf.database_url:  # PostgreSQL: an operator runs `gateway db upgrade` first
            db = Database.from_settings(conf)
            await upgrade(db.engine)
            await db.dispose()
        app = create_app(conf, validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        http = aiohttp.ClientSession()
        sessions.append(http)
        return Gw(app, str(server.make_url("")).rstrip("/"), http, ap, base)

    try:
        yield make
    finally:
        for http in sessions:
            await http.close()
        for runner in runners:
            await runner.cleanup()


async def restarted_gateway(
    tmp_path: Path,
    name: str,
    store_url: str,
    validator: Any,
    aiohttp_server: Any,
    *,
    settings: dict[str, Any] | None = None,
    prepare: Callable[[Any], None] | None = None,
    **responses: Any,
) -> tuple[Gw, Callable[[], Awaitable[None]]]:
    """One of the gateways a crash test starts one after the other on one database
    (``store_url``; a "restart"), with its own access point stub; ``prepare(app)`` runs before
    it starts (a crash point hooked in). Returns the gateway and its stop."""
    ap = Stub()
    runner = await start_stub(ap)
    conf = settings_for(
        tmp_path / name, ap.url, {"database_url": store_url, **(settings or {})}, **responses
    )
    if not store_url.startswith("sqlite"):  # PostgreSQL: an operator runs `gateway db upgrade`
        db = Database.from_settings(conf)
        await upgrade(db.engine)
        await db.dispose()
    app = create_app(conf, validator=validator)
    if prepare is not None:
        prepare(app)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    http = aiohttp.ClientSession()

    async def stop() -> None:
        await http.close()
        await server.close()  # the app's cleanup: its workers and sweeps stop
        await runner.cleanup()

    return Gw(app, str(server.make_url("")).rstrip("/"), http, ap, b""), stop
