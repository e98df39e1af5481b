"""Revocation inside AS4 on real loopback servers (OCSP responder + CRL server + access points):
a revoked sending AP is refused with EBMS:0101 and nothing is delivered; a message to a revoked
receiver is refused before anything leaves; hard-fail vs soft-fail when nothing answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.as4 import (
    As4Limits,
    As4PermanentError,
    As4Receiver,
    As4Sender,
    As4TransientError,
    Identity,
    MemorySeenStore,
    Sbdh,
    TrustStore,
    as4_handler,
    wrap_sbdh,
)
from gateway.revocation import RevocationChecker

DOCTYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)


def sbd(invoice: bytes, instance: str) -> bytes:
    return wrap_sbdh(
        invoice,
        Sbdh(
            sender="0088:7300010000001",
            receiver="0088:5798000000001",
            document_type_id=DOCTYPE,
            process_id="urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
            instance_id=instance,
            country_c1="NO",
        ),
    )


@pytest.fixture(scope="session")
def invoice(corpus_dir: Path) -> bytes:
    return (corpus_dir / "peppol-bis-examples" / "base-example.xml").read_bytes()


@pytest.fixture
async def receiving_ap(aiohttp_client: Any, rv_pki: Any, clock: Any) -> Any:
    """Our AP (POP000001, a good certificate of its own) checking senders in ``mode``."""
    made: list[Any] = []

    async def start(mode: str = "hard-fail") -> Any:
        delivered: list[bytes] = []

        async def deliver(document: bytes, meta: Any) -> None:
            delivered.append(document)

        checker = RevocationChecker(mode, timeout=3.0, clock=clock)
        trust = TrustStore([rv_pki.root.cert], [rv_pki.ca.cert], revocation=checker, cache_ttl=0)
        me = Identity("POP000001", rv_pki.receiver_revoked.cert, rv_pki.receiver_revoked.key)
        receiver = As4Receiver(me, trust, As4Limits(), MemorySeenStore(), deliver)
        app = web.Application(client_max_size=receiver.limits.max_message_bytes + 1024 * 1024)
        app.router.add_post("/as4", as4_handler(receiver))
        client = await aiohttp_client(app)
        made.append(receiver)
        return str(client.make_url("/as4")), delivered, me

    yield start
    for receiver in made:
        await receiver.aclose()


async def test_revoked_sender_is_refused_with_ebms_0101_and_nothing_delivered(
    receiving_ap, responder, rv_pki, invoice
):
    url, delivered, me = await receiving_ap("hard-fail")
    revoked = As4Sender(Identity("POP000002", rv_pki.revoked.cert, rv_pki.revoked.key))
    with pytest.raises(As4PermanentError) as info:
        await revoked.send(url, me.certificate, sbd(invoice, "r-1"), message_id="r-1@test")
    assert info.value.ebms_code == "EBMS:0101" and "revoked" in (info.value.detail or "")
    assert delivered == []
    good = As4Sender(Identity("POP000002", rv_pki.good.cert, rv_pki.good.key))
    receipt = await good.send(url, me.certificate, sbd(invoice, "g-1"), message_id="g-1@test")
    assert receipt.is_receipt and len(delivered) == 1
    await good.send(url, me.certificate, sbd(invoice, "g-2"), message_id="g-2@test")
    assert responder.hits["ocsp"] == 2  # revoked + good once each; the second good is cached
    for sender in (revoked, good):
        await sender.aclose()


async def test_unreachable_responder_hard_fail_is_a_retryable_refusal(
    receiving_ap, responder, rv_pki, invoice
):
    sender = As4Sender(Identity("POP000002", rv_pki.unreachable.cert, rv_pki.unreachable.key))
    url, delivered, me = await receiving_ap("hard-fail")
    with pytest.raises(As4TransientError) as info:
        await sender.send(url, me.certificate, sbd(invoice, "u-1"), message_id="u-1@test")
    assert info.value.ebms_code == "EBMS:0101" and info.value.http_status == 503
    assert delivered == []
    url, delivered, me = await receiving_ap("soft-fail")
    receipt = await sender.send(url, me.certificate, sbd(invoice, "u-2"), message_id="u-2@test")
    assert receipt.is_receipt and len(delivered) == 1
    await sender.aclose()


async def test_sending_to_a_revoked_receiver_is_refused_before_anything_leaves(
    aiohttp_server, responder, rv_pki, invoice, clock
):
    requests: list[bytes] = []

    async def receiving(request: web.Request) -> web.Response:
        requests.append(await request.read())
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/as4", receiving)
    server = await aiohttp_server(app, host="127.0.0.1")
    checker = RevocationChecker("hard-fail", timeout=3.0, clock=clock)
    trust = TrustStore([rv_pki.root.cert], [rv_pki.ca.cert], revocation=checker, cache_ttl=0)
    sender = As4Sender(Identity("POP000002", rv_pki.good.cert, rv_pki.good.key), trust)
    with pytest.raises(As4PermanentError, match=r"revoked .*key_compromise") as info:
        await sender.send(
            str(server.make_url("/as4")),
            rv_pki.receiver_revoked.cert,
            sbd(invoice, "out-1"),
            message_id="out-1@test",
        )
    assert info.value.detail == "receiver-certificate"
    assert requests == []  # nothing left
    await sender.aclose()
