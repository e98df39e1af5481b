"""Issue 14 items 4 and 8 on a real loopback server: AS4 knows who is talking before it spends
CPU on what they signed, a trusted peer's signature work is capped, and decompression stops at
the validation limit.

The hostile messages are the ones of the issue: a body padded to 4 MB and referenced 600 times
(a 5.3 MB request that cost 66 s of CPU before EBMS:0101), and a gzip payload that inflates far
beyond what the validator would accept.
"""

from __future__ import annotations

import base64
import time
import tracemalloc
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from gateway.as4 import (
    As4Limits,
    As4Receiver,
    Identity,
    MemorySeenStore,
    build_user_message,
    mime,
    ns,
    wssec,
)
from gateway.as4.http import make_app
from gateway.as4.receipt import parse_signal
from gateway.config import load_settings
from tests.as4.as4_support import PEER_SERVED, SERVED, Intake, make_sbd

PAD = 4 * 1024 * 1024


def _resign(root: etree._Element, key: Any) -> None:
    sig = root.find(f".//{{{ns.DS}}}Signature")
    signed_info = sig.find(f"{{{ns.DS}}}SignedInfo")
    value = key.sign(wssec.c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    sig.find(f"{{{ns.DS}}}SignatureValue").text = base64.b64encode(value).decode("ascii")


def hostile(
    identity: Identity, receiver_cert: Any, invoice: bytes, *, refs: int, nested: bool = False
) -> tuple[bytes, str]:
    """A correctly signed message whose soap:Body holds 4 MB and is referenced ``refs`` times
    (``nested``: ``refs`` distinct elements nested around the padding, each referenced once)."""
    sbd = make_sbd(invoice, f"hostile-{refs}-{nested}", sender=PEER_SERVED, receiver=SERVED)
    message = build_user_message(
        identity, receiver_cert, sbd, message_id=f"hostile-{refs}-{nested}@test"
    )
    packaged = mime.parse(message.body, message.content_type)
    root = etree.fromstring(packaged.soap)
    body = root.find(wssec.q(ns.S12, "Body"))
    parent = body
    ids: list[str] = []
    for n in range(refs if nested else 0):
        parent = etree.SubElement(parent, "{urn:pad}Wrap", {ns.WSU_ID: f"wrap-{n}"})
        ids.append(f"wrap-{n}")
    etree.SubElement(parent, "{urn:pad}Pad").text = "A" * PAD
    signed_info = root.find(f".//{{{ns.DS}}}SignedInfo")
    body_uri = "#" + body.get(ns.WSU_ID)
    body_ref = next(r for r in signed_info if r.get("URI") == body_uri)
    digest = wssec.digest_b64(wssec.c14n(body))  # computed once: the attacker pays nothing
    body_ref.find(wssec.q(ns.DS, "DigestValue")).text = digest
    extra = ids if nested else [body_uri[1:]] * (refs - 1)
    for target in extra:
        copy = etree.fromstring(etree.tostring(body_ref))
        copy.set("URI", "#" + target)
        if nested:  # each one correct, so only the work budget can stop them
            element = root.find(f".//*[@{{{ns.WSU}}}Id='{target}']")
            copy.find(wssec.q(ns.DS, "DigestValue")).text = wssec.digest_b64(wssec.c14n(element))
        signed_info.append(copy)
    _resign(root, identity.private_key)
    soap = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    parts = [(cid, p.body, p.content_type) for cid, p in packaged.attachments.items()]
    return mime.build(soap, parts)


class C14nCounter:
    """Counts canonicalisations of the hostile message (ours, e.g. signing the error signal,
    are small and not counted)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.calls = 0
        self.bytes = 0
        real = wssec.c14n

        def counting(element: Any, inclusive_prefixes: Any = ()) -> bytes:
            out = real(element, inclusive_prefixes)
            if element.getroottree().getroot().find(".//{urn:pad}Pad") is not None:
                self.calls += 1
                self.bytes += len(out)
            return out

        monkeypatch.setattr(wssec, "c14n", counting)


async def _post(client: Any, body: bytes, content_type: str) -> tuple[str, str, float]:
    started = time.perf_counter()
    resp = await client.post("/as4", data=body, headers={"Content-Type": content_type})
    answer = await resp.read()
    elapsed = time.perf_counter() - started
    signal, _ = parse_signal(answer)
    assert signal.errors, answer[:400]
    return signal.errors[0].code, signal.errors[0].detail, elapsed


async def _receiver(aiohttp_client: Any, ours: Identity, trust: Any, limits: As4Limits) -> Any:
    intake = Intake()
    client = await aiohttp_client(
        make_app(As4Receiver(ours, trust, limits, MemorySeenStore(), intake))
    )
    return client, intake


LIMITS = As4Limits(max_message_bytes=8 * 1024 * 1024, max_decompressed_bytes=8 * 1024 * 1024)


async def test_untrusted_key_costs_no_canonicalisation(
    aiohttp_client, ours, trust, pki, invoice, monkeypatch
):
    rogue = Identity("POP000002", pki.rogue.cert, pki.rogue.key)
    body, content_type = hostile(rogue, pki.ours.cert, invoice, refs=600)
    assert len(body) > PAD  # the 5.3 MB request of the issue
    client, intake = await _receiver(aiohttp_client, ours, trust, LIMITS)
    counter = C14nCounter(monkeypatch)
    code, detail, elapsed = await _post(client, body, content_type)
    assert code == "EBMS:0101" and "trust anchor" in detail
    assert counter.calls == 0  # not even SignedInfo: the certificate was refused first
    assert elapsed < 5.0, elapsed  # was 66 s; a parse of 5 MB and a chain check now
    assert intake.delivered == []


async def test_trusted_peer_600_references_refused_before_any_digest(
    aiohttp_client, ours, trust, pki, invoice, monkeypatch
):
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    body, content_type = hostile(peer, pki.ours.cert, invoice, refs=600)
    client, intake = await _receiver(aiohttp_client, ours, trust, LIMITS)
    counter = C14nCounter(monkeypatch)
    code, detail, elapsed = await _post(client, body, content_type)
    assert code == "EBMS:0101" and "602 references; at most 32" in detail  # + Messaging, payload
    assert counter.bytes < 64 * 1024 and elapsed < 5.0, (counter.bytes, elapsed)  # SignedInfo only
    assert intake.delivered == []


async def test_trusted_peer_repeated_reference_refused(
    aiohttp_client, ours, trust, pki, invoice, monkeypatch
):
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    body, content_type = hostile(peer, pki.ours.cert, invoice, refs=5)  # under the cap
    client, intake = await _receiver(aiohttp_client, ours, trust, LIMITS)
    counter = C14nCounter(monkeypatch)
    code, detail, _ = await _post(client, body, content_type)
    assert code == "EBMS:0101" and "more than once" in detail
    assert counter.bytes < 64 * 1024
    assert intake.delivered == []


async def test_nested_references_stop_at_the_canonicalisation_budget(
    aiohttp_client, ours, trust, pki, invoice, monkeypatch
):
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    body, content_type = hostile(peer, pki.ours.cert, invoice, refs=29, nested=True)
    budget = 3 * PAD
    limits = As4Limits(
        max_message_bytes=8 * 1024 * 1024,
        max_decompressed_bytes=8 * 1024 * 1024,
        signature=wssec.SignatureBudget(max_references=32, max_c14n_bytes=budget),
    )
    client, intake = await _receiver(aiohttp_client, ours, trust, limits)
    counter = C14nCounter(monkeypatch)
    code, detail, elapsed = await _post(client, body, content_type)
    assert code == "EBMS:0101" and "canonical bytes" in detail
    # References until the budget is crossed: never the 29 x 4 MB asked for.
    assert counter.bytes < budget + 2 * PAD, counter.bytes
    assert counter.calls <= 6 and elapsed < 10.0, (counter.calls, elapsed)
    assert intake.delivered == []


# --- item 8: decompression capped at the validation limit ----------------------------------------


def _bomb(pki: Any, invoice: bytes, inflated: int, instance: str) -> Any:
    peer = Identity("POP000002", pki.peer.cert, pki.peer.key)
    chunk = b" " * 4092 + b"<X/>"  # short text nodes: libxml2 refuses a 10 MB one anyway
    filler = chunk * ((inflated - len(invoice)) // len(chunk))
    padded = invoice.replace(b"</Invoice>", filler + b"</Invoice>")
    sbd = make_sbd(padded, instance, sender=PEER_SERVED, receiver=SERVED)
    return build_user_message(peer, pki.ours.cert, sbd, message_id=f"{instance}@test")


async def test_decompression_is_capped_at_the_validation_limit(
    aiohttp_client, ours, trust, pki, invoice
):
    validation_limit = 1024 * 1024
    settings = load_settings(env={"GATEWAY_VALIDATION_MAX_BYTES": str(validation_limit)})
    limits = As4Limits.from_settings(settings.as4, settings.validation)
    assert settings.as4.max_decompressed_bytes == 100 * 1024 * 1024  # the AS4 cap alone is 100x
    assert limits.max_decompressed_bytes == validation_limit + 64 * 1024
    client, intake = await _receiver(aiohttp_client, ours, trust, limits)

    bomb = _bomb(pki, invoice, 15 * validation_limit, "inflating")
    assert len(bomb.body) < 200 * 1024  # ~50 KB on the wire, 15 MB inflated
    tracemalloc.start()
    try:
        code, detail, _ = await _post(client, bomb.body, bomb.content_type)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == "EBMS:0303" and str(limits.max_decompressed_bytes) in detail
    assert peak < 6 * validation_limit, peak  # was 583 MB for a 94 MB document
    assert intake.delivered == []

    # Just under the validation limit is delivered as usual.
    fits = _bomb(pki, invoice, validation_limit - 4096, "fits")
    resp = await client.post("/as4", data=fits.body, headers={"Content-Type": fits.content_type})
    signal, _ = parse_signal(await resp.read())
    assert resp.status == 200 and signal.is_receipt and len(intake.delivered) == 1
