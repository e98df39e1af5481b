"""Interop with the independent PyPI ``as4`` package, both directions, over real loopback HTTP,
plus every refusal the issue lists (each answered with the right ebMS error, nothing delivered)."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from as4 import AS4LocalPrivateKey
from as4.peppol import build_peppol_message, create_peppol_internal_party, parse_peppol_receipt
from lxml import etree

from gateway.as4 import (
    As4Limits,
    As4PermanentError,
    As4Receiver,
    As4Sender,
    As4TransientError,
    Identity,
    MemorySeenStore,
    ReceiptInvalid,
    build_user_message,
    parse_signal,
    unwrap_sbdh,
)
from gateway.as4.sbdh import Sbdh
from tests.as4.as4_support import DOCTYPE, PEER_SERVED, PROCESS, SERVED, OurAp, PeerAp, make_sbd


def peer_message(
    party: Any, us: Any, invoice: bytes, *, recipient: str = SERVED, instance_id: str | None = None
) -> Any:
    return build_peppol_message(
        invoice,
        local_party=party,
        remote_party=us,
        sender=PEER_SERVED,
        recipient=recipient,
        document_type_identifier_scheme="busdox-docid-qns",
        document_type_identifier_value=DOCTYPE,
        process_identifier=PROCESS,
        sender_country_id="NO",
        document_identification_instance_identifier=instance_id,
    )


async def post(ap: OurAp, body: bytes, content_type: str) -> tuple[int, bytes]:
    resp = await ap.client.post("/as4", data=body, headers={"Content-Type": content_type})
    return resp.status, await resp.read()


async def post_message(ap: OurAp, message: Any) -> tuple[int, bytes]:
    body, boundary = message.get_request_data()
    return await post(ap, body, message.get_http_headers(boundary)["Content-Type"])


def error_of(answer: bytes) -> tuple[str, str]:
    signal, _ = parse_signal(answer)
    assert signal.errors, answer[:500]
    return signal.errors[0].code, signal.errors[0].detail


def root_id(document: bytes) -> str:
    root = etree.fromstring(document)
    return root.findtext("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}ID")


# --- peer (as4 package) -> us -------------------------------------------------------------------


async def test_peer_sends_to_us_and_verifies_our_receipt(
    our_ap, peer_party, us_as_remote, invoice, pki
):
    message = peer_message(peer_party, us_as_remote, invoice, instance_id="inst-peer-1")
    status, answer = await post_message(our_ap, message)
    assert status == 200
    receipt = parse_peppol_receipt(answer, pki.ours.cert)  # their parser, our certificate
    assert receipt.success and receipt.error is None
    receipt.verify_non_repudiation(message.signed_references)  # digests of what they signed
    assert receipt.original_message_id == message.message_id
    [(document, meta)] = our_ap.intake.delivered
    assert root_id(document) == root_id(invoice) == "Snippet1"
    assert meta.message_id == message.message_id and meta.from_party == "POP000002"
    assert (meta.sbdh.sender, meta.sbdh.receiver) == (PEER_SERVED, SERVED)
    assert meta.sbdh.instance_id == "inst-peer-1" and meta.sbdh.country_c1 == "NO"
    assert meta.sbdh.document_type_id == DOCTYPE and meta.sbdh.process_id == PROCESS


async def test_replay_gets_same_receipt_and_is_delivered_once(
    our_ap, peer_party, us_as_remote, invoice
):
    message = peer_message(peer_party, us_as_remote, invoice, instance_id="inst-replay")
    first = await post_message(our_ap, message)
    second = await post_message(our_ap, message)
    assert first[0] == second[0] == 200
    assert first[1] == second[1]  # byte-identical stored receipt
    assert len(our_ap.intake.delivered) == 1
    # A rebuilt message (new MessageId) carrying the same SBDH InstanceIdentifier: a fresh
    # receipt for the new MessageId, but the document is not delivered again.
    again = peer_message(peer_party, us_as_remote, invoice, instance_id="inst-replay")
    assert again.message_id != message.message_id
    status, answer = await post_message(our_ap, again)
    assert status == 200 and parse_signal(answer)[0].ref_to_message_id == again.message_id
    assert len(our_ap.intake.delivered) == 1


async def test_unknown_recipient_is_not_serviced(our_ap, peer_party, us_as_remote, invoice, pki):
    message = peer_message(peer_party, us_as_remote, invoice, recipient="0088:0000000000000")
    status, answer = await post_message(our_ap, message)
    assert status == 200
    assert error_of(answer) == ("EBMS:0004", "PEPPOL:NOT_SERVICED")
    theirs = parse_peppol_receipt(answer, pki.ours.cert)  # signed error, readable by the peer
    assert theirs.error is not None and theirs.error.error_code == "EBMS:0004"
    assert our_ap.intake.delivered == []
    # not remembered: once the participant is served, the same message goes through
    our_ap.intake.served.add("0088:0000000000000")
    assert (await post_message(our_ap, message))[0] == 200 and len(our_ap.intake.delivered) == 1


async def test_tampered_signature_is_refused(our_ap, peer_party, us_as_remote, invoice):
    message = peer_message(peer_party, us_as_remote, invoice)
    body, boundary = message.get_request_data()
    conv = message.conversation_id.encode()
    assert body.count(conv) == 1
    tampered = body.replace(conv, conv[:-4] + b"beef")
    status, answer = await post(
        our_ap, tampered, message.get_http_headers(boundary)["Content-Type"]
    )
    assert status == 200 and error_of(answer)[0] == "EBMS:0101"
    assert our_ap.intake.delivered == []


async def test_tampered_attachment_is_refused(our_ap, peer_party, us_as_remote, invoice):
    message = peer_message(peer_party, us_as_remote, invoice)
    body, boundary = message.get_request_data()
    [(_cid, data)] = list(message.mime_attachments.items())
    flipped = data[:-1] + bytes([data[-1] ^ 1])  # breaks the GCM tag
    status, answer = await post(
        our_ap, body.replace(data, flipped), message.get_http_headers(boundary)["Content-Type"]
    )
    assert status == 200 and error_of(answer)[0] == "EBMS:0102"
    assert our_ap.intake.delivered == []


async def test_untrusted_certificate_is_refused(our_ap, us_as_remote, invoice, pki):
    rogue = create_peppol_internal_party(
        "POP000002", pki.rogue.cert, AS4LocalPrivateKey(pki.rogue.key)
    )
    status, answer = await post_message(our_ap, peer_message(rogue, us_as_remote, invoice))
    code, detail = error_of(answer)
    assert status == 200 and code == "EBMS:0101" and "trust anchor" in detail
    assert our_ap.intake.delivered == []


async def test_message_for_another_access_point_is_refused(our_ap, peer_party, invoice, pki):
    # Encrypted for and addressed to the peer (POP000002), but posted to us.
    from as4.peppol import create_peppol_external_party

    other = create_peppol_external_party("POP000002", pki.peer.cert)
    status, answer = await post_message(our_ap, peer_message(peer_party, other, invoice))
    assert status == 200 and error_of(answer)[0] == "EBMS:0010"
    assert our_ap.intake.delivered == []


async def test_oversized_message_is_refused(our_ap, peer_party, us_as_remote, invoice):
    body, boundary = peer_message(peer_party, us_as_remote, invoice).get_request_data()
    big = body + b"\0" * (our_ap.receiver.limits.max_message_bytes + 1)
    status, answer = await post(our_ap, big, f'multipart/related; boundary="{boundary}"')
    assert status == 413 and error_of(answer)[0] == "EBMS:0004"
    assert our_ap.intake.delivered == []


async def test_zip_bomb_is_refused(aiohttp_client, ours, trust, pki, invoice):
    from gateway.as4.http import make_app
    from tests.as4.as4_support import Intake

    intake = Intake()
    limits = As4Limits(max_message_bytes=1024 * 1024, max_decompressed_bytes=2 * 1024 * 1024)
    client = await aiohttp_client(
        make_app(As4Receiver(ours, trust, limits, MemorySeenStore(), intake))
    )
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    sbd = make_sbd(invoice, "bomb", sender=PEER_SERVED, receiver=SERVED)
    bomb = sbd + b" " * (64 * 1024 * 1024)  # 64 MiB once inflated, ~64 KiB on the wire
    message = build_user_message(
        peer, pki.ours.cert, bomb, message_id="bomb@test", header=unwrap_sbdh(sbd)[0]
    )
    assert len(message.body) < 200 * 1024
    resp = await client.post(
        "/as4", data=message.body, headers={"Content-Type": message.content_type}
    )
    assert error_of(await resp.read())[0] == "EBMS:0303"
    assert intake.delivered == []


async def test_future_timestamp_beyond_skew_is_refused(our_ap, pki, invoice):
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    sbd = make_sbd(invoice, "future", sender=PEER_SERVED, receiver=SERVED)
    message = build_user_message(
        peer,
        pki.ours.cert,
        sbd,
        message_id="future@test",
        timestamp=datetime.now(UTC) + timedelta(hours=1),
    )
    status, answer = await post(our_ap, message.body, message.content_type)
    assert status == 200 and error_of(answer)[0] == "EBMS:0003"
    assert our_ap.intake.delivered == []


async def test_intake_failure_is_transient_and_not_remembered(our_ap, pki, invoice, ours):
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    sender = As4Sender(peer)
    sbd = make_sbd(invoice, "transient", sender=PEER_SERVED, receiver=SERVED)
    our_ap.intake.fail = True
    with pytest.raises(As4TransientError) as info:
        await sender.send(our_ap.url, ours.certificate, sbd, message_id="transient@test")
    assert info.value.http_status == 503 and info.value.ebms_code == "EBMS:0004"
    our_ap.intake.fail = False  # the retry, same MessageId, now succeeds
    receipt = await sender.send(our_ap.url, ours.certificate, sbd, message_id="transient@test")
    assert receipt.ref_to_message_id == "transient@test" and len(our_ap.intake.delivered) == 1
    await sender.aclose()


async def test_a_rebuilt_resend_of_a_delivered_message_gets_a_receipt_it_can_verify(
    our_ap, pki, invoice, ours
):
    """Our queue rebuilds a retry (new timestamp, new signature) under the same MessageId.
    After a lost receipt the stored one acknowledges other digests: the sender could never
    verify it and would retry forever. It gets a receipt for its copy; nothing is delivered
    twice, and a byte-identical replay still gets the stored receipt."""
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    sender = As4Sender(peer)
    sbd = make_sbd(invoice, "rebuilt", sender=PEER_SERVED, receiver=SERVED)
    first = await sender.send(our_ap.url, ours.certificate, sbd, message_id="rebuilt@test")
    again = await sender.send(our_ap.url, ours.certificate, sbd, message_id="rebuilt@test")
    assert again.ref_to_message_id == first.ref_to_message_id == "rebuilt@test"
    assert set(again.acknowledged) != set(first.acknowledged)  # it acknowledges this copy
    assert len(our_ap.intake.delivered) == 1
    await sender.aclose()


# --- us -> peer (as4 package) -------------------------------------------------------------------


async def test_we_send_to_peer_and_verify_its_receipt(peer_ap: PeerAp, ours, trust, pki, invoice):
    sender = As4Sender(ours, trust)
    instance = str(uuid.uuid4())
    sbd = make_sbd(invoice, instance, mls_to="0242:000001", mls_type="ALWAYS_SEND")
    receipt = await sender.send(peer_ap.url, pki.peer.cert, sbd, message_id="out-1@gateway")
    assert receipt.is_receipt and receipt.ref_to_message_id == "out-1@gateway"
    assert receipt.signed_by == pki.peer.cert and len(receipt.acknowledged) == 3
    [payloads] = peer_ap.received
    [received_sbd] = payloads.values()
    header, document = unwrap_sbdh(received_sbd)
    assert header.instance_id == instance and header.mls_to == "0242:000001"
    assert header.mls_type == "ALWAYS_SEND" and root_id(document) == "Snippet1"
    # retry: same MessageId and SBDH bytes -> the peer accepts again (it has no duplicate
    # elimination) and we verify the new receipt against the new signature
    receipt2 = await sender.send(peer_ap.url, pki.peer.cert, sbd, message_id="out-1@gateway")
    assert receipt2.ref_to_message_id == "out-1@gateway"
    assert unwrap_sbdh(next(iter(peer_ap.received[1].values())))[0].instance_id == instance
    await sender.aclose()


async def test_peer_not_serviced_is_permanent(peer_ap: PeerAp, ours, pki, invoice):
    sender = As4Sender(ours)
    sbd = make_sbd(invoice, "x", receiver="0088:0000000000000")
    with pytest.raises(As4PermanentError) as info:
        await sender.send(peer_ap.url, pki.peer.cert, sbd, message_id="out-ns@gateway")
    assert info.value.ebms_code == "EBMS:0004" and info.value.detail == "PEPPOL:NOT_SERVICED"
    assert peer_ap.received == []
    await sender.aclose()


async def test_receipt_signed_by_someone_else_is_invalid(peer_ap: PeerAp, ours, pki, invoice):
    sender = As4Sender(ours)
    sbd = make_sbd(invoice, "y")
    # We expect the receiver to be the rogue certificate: encryption to it fails at the peer
    # (EBMS:0102, permanent); with the right key but a receipt from another signer we get
    # ReceiptInvalid. Simulate the latter by verifying the peer's receipt against our own cert.
    message = build_user_message(ours, pki.peer.cert, sbd, message_id="out-ri@gateway")
    with pytest.raises(ReceiptInvalid):
        await sender.post(peer_ap.url, pki.ours.cert, message)
    await sender.aclose()


async def test_untrusted_receiver_certificate_is_permanent(
    peer_ap: PeerAp, ours, trust, pki, invoice
):
    sender = As4Sender(ours, trust)
    with pytest.raises(As4PermanentError):
        await sender.send(
            peer_ap.url, pki.rogue.cert, make_sbd(invoice, "z"), message_id="out-r@gateway"
        )
    assert peer_ap.received == []
    await sender.aclose()


async def test_unreachable_receiver_is_transient(ours, pki, invoice, unused_tcp_port):
    sender = As4Sender(ours, timeout=5)
    with pytest.raises(As4TransientError):
        await sender.send(
            f"http://127.0.0.1:{unused_tcp_port}/as4",
            pki.peer.cert,
            make_sbd(invoice, "u"),
            message_id="out-u@gateway",
        )
    await sender.aclose()


async def test_round_trip_between_two_gateways(our_ap, pki, invoice):
    """Our sender -> our receiver, including gzip of a real invoice and the SBDH scopes."""
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    sender = As4Sender(peer)
    sbd = make_sbd(invoice, "rt-1", sender=PEER_SERVED, receiver=SERVED, mls_to="0242:000002")
    receipt = await sender.send(our_ap.url, pki.ours.cert, sbd, message_id="rt-1@test")
    assert receipt.signed_by == pki.ours.cert
    [(document, meta)] = our_ap.intake.delivered
    assert gzip.decompress(gzip.compress(document)) == document and root_id(document) == "Snippet1"
    assert meta.sbdh.mls_to == "0242:000002" and isinstance(meta.sbdh, Sbdh)
    await sender.aclose()


async def test_large_message_is_read_completely(our_ap, pki, invoice):
    """A multi-megabyte message arrives in many TCP chunks; all of it must be read."""
    import os

    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    filler = b"<!-- " + os.urandom(1024 * 1024).hex().encode() + b" -->"
    padded = invoice.replace(b"<cbc:CustomizationID>", filler + b"<cbc:CustomizationID>", 1)
    sbd = make_sbd(padded, "large-1", sender=PEER_SERVED, receiver=SERVED)
    sender = As4Sender(peer)
    receipt = await sender.send(our_ap.url, pki.ours.cert, sbd, message_id="large-1@test")
    assert receipt.is_receipt
    [(document, _meta)] = our_ap.intake.delivered
    assert len(document) > 2 * 1024 * 1024 and root_id(document) == "Snippet1"
    await sender.aclose()
