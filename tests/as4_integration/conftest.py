"""Fixtures for AS4 inside the gateway: whole gateway apps (create_app with [as4]) on loopback,
a receiving AP built on the independent PyPI ``as4`` package, a generated test PKI, real SQLite.

No ``__init__.py`` here on purpose: it would shadow the PyPI ``as4`` package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from as4 import AS4LocalPrivateKey, ParticipantNotServicedError
from as4.peppol import (
    create_peppol_external_party,
    create_peppol_internal_party,
    parse_peppol_message,
    peppol_security_policy,
)

from gateway.server import create_app
from tests.as4.as4_pki import Pki, make_pki
from tests.as4_integration.as4int_support import Node, PeerAp, StartNode, free_port, node_settings


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="session")
def peer_party(pki: Any) -> Any:
    return create_peppol_internal_party(
        "POP000002", pki.peer.cert, AS4LocalPrivateKey(pki.peer.key)
    )


@pytest.fixture(scope="session")
def gateway_party(pki: Any) -> Any:
    return create_peppol_external_party("POP000001", pki.ours.cert)


@pytest.fixture(scope="session")
def pem_dir(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """The PKI as PEM files, the way an operator configures [as4]."""
    directory = tmp_path_factory.mktemp("as4-pki")
    pki.write_pem(directory)
    return directory


@pytest.fixture(scope="session")
def invoice(corpus_dir: Path) -> bytes:
    return (corpus_dir / "peppol-bis-examples" / "base-example.xml").read_bytes()


@pytest.fixture
async def start_node(
    tmp_path: Path, pem_dir: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[StartNode]:
    sessions: list[aiohttp.ClientSession] = []

    async def start(
        who: str,
        party: str,
        *,
        port: int | None = None,
        routes: list[dict[str, str]] | None = None,
        **as4: Any,
    ) -> Node:
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
            {"Content-Type": request.headers["Content-Type"]},
            body,
            local,
            accept_participant=accept,
            security_policy=policy,
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
