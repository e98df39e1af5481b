"""Fixtures for AS4 inside the gateway: whole gateway apps (create_app with [as4]) on loopback,
a receiving AP built on the independent PyPI ``as4`` package, a generated test PKI, real SQLite.

No ``__init__.py`` here on purpose: it would shadow the PyPI ``as4`` package.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from as4 import AS4LocalPrivateKey, ParticipantNotServicedError
from as4.peppol import create_peppol_internal_party, parse_peppol_message, peppol_security_policy
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "as4"))
from as4_pki import Pki, make_pki

from gateway.config import load_settings
from gateway.server.app import create_app
from gateway.server.appkeys import DB
from gateway.store import Database, Document, StatusChange, repo

BIS_DOCTYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
BIS_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
#: Buyer / seller endpoints of peppol-bis-examples/base-example.xml.
BUYER = "0002:FR23342"
SELLER = "0088:9482348239847239874"


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="session")
def pem_dir(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """The PKI as PEM files, the way an operator configures [as4]."""
    directory = tmp_path_factory.mktemp("as4-pki")
    pem = serialization.Encoding.PEM
    for name, issued in (("root", pki.root), ("ca", pki.ap_ca), ("ours", pki.ours),
                         ("peer", pki.peer), ("rogue", pki.rogue)):
        (directory / f"{name}.crt").write_bytes(issued.cert.public_bytes(pem))
        (directory / f"{name}.key").write_bytes(issued.key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return directory


@pytest.fixture(scope="session")
def validator(request: pytest.FixtureRequest, installed_data_dir: Path) -> Any:
    """The one in-process validator of the test process (two Saxon engines crash)."""
    from gateway.validation import Validator

    shared = getattr(request.config, "_gateway_validator", None)
    if shared is None:
        shared = Validator(installed_data_dir / "artefacts", jobs=0)
        request.config._gateway_validator = shared  # type: ignore[attr-defined]
        request.config.add_cleanup(shared.close)
    return shared


@pytest.fixture(scope="session")
def invoice(corpus_dir: Path) -> bytes:
    return (corpus_dir / "peppol-bis-examples" / "base-example.xml").read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """One running gateway (create_app + aiohttp server on loopback)."""

    app: web.Application
    url: str
    http: aiohttp.ClientSession

    @property
    def db(self) -> Database:
        return self.app[DB]

    async def serve(self, tenant: str, participant: str) -> None:
        async with self.db.write() as s:
            await repo.add_participant(s, tenant, participant)

    async def key(self, tenant: str, *scopes: str) -> str:
        async with self.db.write() as s:
            _, plaintext = await repo.create_api_key(s, tenant, scopes or ("submit", "read"))
        return plaintext

    async def documents(self, direction: str = "inbound") -> list[Document]:
        async with self.db.read() as s:
            return list(await s.scalars(
                select(Document).where(Document.direction == direction).order_by(Document.seq)
            ))

    async def history(self, doc_id: str) -> list[StatusChange]:
        async with self.db.read() as s:
            return await repo.history(s, doc_id)

    async def count(self, table: Any) -> int:
        from sqlalchemy import func

        async with self.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)


StartNode = Callable[..., Awaitable[Node]]


def node_settings(
    base: Path, pem_dir: Path, who: str, party: str, port: int,
    routes: list[dict[str, str]] | None = None, **as4: Any,
) -> Any:
    return load_settings(env={}, overrides={
        "data_dir": str(base / f"data-{who}"),
        "http": {"host": "127.0.0.1", "port": port},
        "as4": {
            "party_id": party,
            "key_file": str(pem_dir / f"{who}.key"),
            "cert_file": str(pem_dir / f"{who}.crt"),
            "trust_anchors": [str(pem_dir / "root.crt")],
            "intermediates": [str(pem_dir / "ca.crt")],
            "country": "NO",
            **as4,
        },
        "outbound": {"retry_initial": 0.2, "retry_max": 0.5, "poll_interval": 0.05,
                     "request_timeout": 10.0, "sml_dns_suffix": "", "workers": 4},
        "webhooks": {"retry_initial": 0.05, "retry_max": 0.2, "max_attempts": 2},
        "routes": routes or [],
    })


@pytest.fixture
async def start_node(
    tmp_path: Path, pem_dir: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[StartNode]:
    sessions: list[aiohttp.ClientSession] = []

    async def start(who: str, party: str, *, port: int | None = None,
                    routes: list[dict[str, str]] | None = None, **as4: Any) -> Node:
        port = port or free_port()
        settings = node_settings(tmp_path, pem_dir, who, party, port, routes, **as4)
        app = create_app(settings, validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=port)
        http = aiohttp.ClientSession()
        sessions.append(http)
        return Node(app, str(server.make_url("")).rstrip("/"), http)

    yield start
    for http in sessions:
        await http.close()


# --- a receiving AP on the PyPI ``as4`` package ----------------------------------------------


@dataclass
class PeerAp:
    url: str = ""
    #: "ok" answers with a receipt; "down" parses (to log ids) and answers HTTP 503.
    mode: str = "ok"
    served: set[str] = field(default_factory=lambda: {BUYER.lower()})
    #: (ebMS MessageId, decrypted SBD) of every message that reached the handler.
    attempts: list[tuple[str, bytes]] = field(default_factory=list)
    received: list[tuple[str, bytes]] = field(default_factory=list)


@pytest.fixture
async def peer_ap(aiohttp_server: Any, pki: Pki) -> PeerAp:
    local = create_peppol_internal_party(
        "POP000002", pki.peer.cert, AS4LocalPrivateKey(pki.peer.key)
    )
    policy = peppol_security_policy(pki.root.cert, intermediates=[pki.ap_ca.cert])
    state = PeerAp()

    def accept(participant: str) -> None:
        if participant.lower() not in state.served:
            raise ParticipantNotServicedError(participant)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        exchange = parse_peppol_message(
            {"Content-Type": request.headers["Content-Type"]}, body, local,
            accept_participant=accept, security_policy=policy,
        )
        message = exchange.message
        sbd = b"".join(message.decrypted_data.values()) if message is not None else b""
        if message is not None:
            state.attempts.append((message.message_id, sbd))
        if state.mode == "down":
            return web.Response(status=503, text="maintenance")
        headers, signal = exchange.build_signal()
        if exchange.successful and message is not None:
            state.received.append((message.message_id, sbd))
        return web.Response(body=signal, headers=headers)

    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.router.add_post("/as4", handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    state.url = str(server.make_url("/as4"))
    return state
