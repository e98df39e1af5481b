"""Fixtures for outbound tests: a DNS responder, an SMP, a test CA, a receiving endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from gateway.config import Settings
from gateway.outbound.queue import OutboundQueue
from gateway.outbound.routing import Router
from gateway.outbound.transports import HttpTransport, Transports
from gateway.outbound.worker import Worker
from gateway.store import Database, Document, StatusChange
from tests.loopback import serving, start
from tests.outbound.dnsserver import DnsServer
from tests.outbound.pki import KeyPair, make_ca, make_leaf
from tests.outbound.processes import CountingReceiver


@pytest.fixture(scope="session")
def smp_ca() -> KeyPair:
    return make_ca()


@pytest.fixture(scope="session")
def smp_signer(smp_ca: KeyPair) -> KeyPair:
    return make_leaf(smp_ca)


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    server = DnsServer()
    await server.start()
    yield server
    server.close()


@dataclass
class Receiver:
    """A receiving endpoint that counts every delivery and every repeat by Message-Id."""

    url: str = ""
    mode: str = "ok"  # ok | down (503) | reject (400)
    received: list[dict[str, str]] = field(default_factory=list)
    #: Every request, including refused ones (to check Message-Id stays stable on retries).
    seen: list[str] = field(default_factory=list)
    bodies: dict[str, bytes] = field(default_factory=dict)

    @property
    def message_ids(self) -> list[str]:
        return [r["Message-Id"] for r in self.received]


async def start_receiver(receiver: Receiver) -> web.AppRunner:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        receiver.seen.append(request.headers.get("Message-Id", ""))
        if receiver.mode == "down":
            return web.Response(status=503, text="maintenance")
        if receiver.mode == "reject":
            return web.Response(status=400, text="unknown document type")
        receiver.received.append({k: v for k, v in request.headers.items()})
        receiver.bodies[request.headers["Message-Id"]] = body
        return web.Response(status=202, text="ok")

    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.router.add_post("/inbox", handle)
    runner, url = await start(app)
    receiver.url = url + "/inbox"
    return runner


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    runner = await start_receiver(rec)
    yield rec
    await runner.cleanup()


# --- database + queue helpers -------------------------------------------------------------


def make_settings(tmp_path, database_url: str = "", **outbound):  # type: ignore[no-untyped-def]
    from gateway.config import load_settings

    routes = outbound.pop("routes", [])
    base = {
        "retry_initial": 0.05,
        "retry_max": 0.2,
        "poll_interval": 0.05,
        "request_timeout": 5.0,
        "lease_seconds": 10.0,
    }
    base.update(outbound)
    return load_settings(
        env={},
        overrides={
            "data_dir": str(tmp_path),
            "database_url": database_url,
            "outbound": base,
            "routes": routes,
            "validation": {"jobs": 0},
        },
    )


async def open_db(settings):  # type: ignore[no-untyped-def]
    import gateway.outbound.models  # noqa: F401  (tables on Base)
    from gateway.store import Database, upgrade

    db = Database.from_settings(settings)
    await upgrade(db.engine)
    return db


async def enqueue_doc(queue, raw: bytes, receiver: str, tenant: str = "acme", **kw):  # type: ignore[no-untyped-def]
    """Queue ``raw`` the way the service does, minus validation (queue-level tests)."""
    from tests.factories import make_document

    doc = make_document(raw, direction="outbound", tenant=tenant, status="queued")
    return await queue.enqueue(doc, receiver=receiver, sender="0088:sender", **kw)


@dataclass
class Rig:
    settings: Settings
    db: Database
    queue: OutboundQueue
    worker: Worker
    transports: Transports

    def new_worker(self) -> Worker:
        router = Router(self.settings.routes, self.transports)
        return Worker(self.queue, router, self.transports, self.settings.outbound)

    async def history(self, doc_id: str) -> list[str]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(StatusChange.to_status)
                .where(StatusChange.document_id == doc_id)
                .order_by(StatusChange.seq)
            )
            return list(rows)

    async def doc_status(self, doc_id: str) -> str:
        async with self.db.read() as s:
            return await s.scalar(select(Document.status).where(Document.id == doc_id))


async def rig(tmp_path: Path, url: str, **outbound: object) -> Rig:
    routes = [{"participant": "0002:*", "url": url, "transport": "http"}]
    settings = make_settings(tmp_path, routes=routes, **outbound)
    db = await open_db(settings)
    queue = OutboundQueue(db, settings.outbound)
    transports = Transports([HttpTransport(timeout=5)])
    worker = Worker(queue, Router(settings.routes, transports), transports, settings.outbound)
    return Rig(settings, db, queue, worker, transports)


@pytest.fixture
def invoice(corpus_dir) -> bytes:  # type: ignore[no-untyped-def]
    return (corpus_dir / "peppol-bis-examples" / "base-example.xml").read_bytes()


@pytest.fixture
async def client(aiohttp_client, tmp_path, receiver: Receiver, validator):  # type: ignore[no-untyped-def]
    """A whole gateway (create_app) on loopback with three keys, routing ``0002:*`` to
    :func:`receiver`; ``client.keys`` names them (``submit``, ``admin``, ``other``)."""
    from gateway.config import load_settings
    from gateway.server import create_app
    from gateway.store import repo
    from gateway.web import DB

    settings = load_settings(
        env={},
        overrides={
            "data_dir": str(tmp_path),
            "outbound": {"poll_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.1},
            "routes": [{"participant": "0002:*", "url": receiver.url}],
        },
    )
    app = create_app(settings, validator=validator)  # wires the outbound service itself
    cl = await aiohttp_client(app)
    async with app[DB].write() as s:
        _, submit_key = await repo.create_api_key(s, "acme", ["submit", "read"])
        _, admin_key = await repo.create_api_key(s, "acme", ["admin"])
        _, other_key = await repo.create_api_key(s, "other", ["admin"])
    cl.keys = {"submit": submit_key, "admin": admin_key, "other": other_key}
    yield cl


def auth(client, who: str = "submit") -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {client.keys[who]}"}


@pytest.fixture
async def counting() -> AsyncIterator[CountingReceiver]:
    rec = CountingReceiver(delay=0.05)
    app = web.Application()
    app.router.add_post("/inbox", rec.handle)
    async with serving(app) as url:
        rec.url = url + "/inbox"
        yield rec
