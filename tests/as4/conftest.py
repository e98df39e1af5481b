"""AS4 fixtures: a generated test PKI, our receiver on a real aiohttp server, and a receiving
access point built on the independent PyPI package ``as4``, also on a real loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from as4 import AS4LocalPrivateKey, ParticipantNotServicedError
from as4.peppol import (
    create_peppol_external_party,
    create_peppol_internal_party,
    parse_peppol_message,
    peppol_security_policy,
)

from gateway.as4 import (
    As4Limits,
    As4Receiver,
    Identity,
    MemorySeenStore,
    TrustStore,
)
from gateway.as4.http import make_app
from tests.as4.as4_pki import Pki, make_pki
from tests.as4.as4_support import Intake, OurAp, PeerAp


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="session")
def invoice(corpus_dir: Path) -> bytes:
    return (corpus_dir / "peppol-bis-examples" / "base-example.xml").read_bytes()


@pytest.fixture(scope="session")
def ours(pki: Pki) -> Identity:
    return Identity("POP000001", pki.ours.cert, pki.ours.key)


@pytest.fixture(scope="session")
def trust(pki: Pki) -> TrustStore:
    return TrustStore([pki.root.cert], [pki.ap_ca.cert])


@pytest.fixture
def limits() -> As4Limits:
    return As4Limits(max_message_bytes=5 * 1024 * 1024, max_decompressed_bytes=5 * 1024 * 1024)


@pytest.fixture
async def our_ap(
    aiohttp_client: Any, ours: Identity, trust: TrustStore, limits: As4Limits
) -> OurAp:
    intake = Intake()
    receiver = As4Receiver(ours, trust, limits, MemorySeenStore(), intake)
    client = await aiohttp_client(make_app(receiver))
    return OurAp(receiver, intake, str(client.make_url("/as4")), client)


@pytest.fixture
async def peer_ap(aiohttp_server: Any, pki: Pki) -> PeerAp:
    local = create_peppol_internal_party(
        "POP000002", pki.peer.cert, AS4LocalPrivateKey(pki.peer.key)
    )
    policy = peppol_security_policy(pki.root.cert, intermediates=[pki.ap_ca.cert])
    state = PeerAp(url="")

    def accept(participant: str) -> None:
        if participant not in state.served:
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
        headers, signal = exchange.build_signal()
        if exchange.successful and exchange.message is not None:
            state.received.append(dict(exchange.message.decrypted_data))
        state.signals.append(signal)
        return web.Response(body=signal, headers=headers)

    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.router.add_post("/as4", handle)
    server = await aiohttp_server(app)
    state.url = str(server.make_url("/as4"))
    return state


@pytest.fixture(scope="session")
def peer_party(pki: Pki) -> Any:
    return create_peppol_internal_party(
        "POP000002", pki.peer.cert, AS4LocalPrivateKey(pki.peer.key)
    )


@pytest.fixture(scope="session")
def us_as_remote(pki: Pki) -> Any:
    return create_peppol_external_party("POP000001", pki.ours.cert)
