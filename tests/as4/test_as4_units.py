"""Units of the AS4 layer: SBDH, MIME, capped gunzip, trust, signals, MLS (validated with the
gateway's own validation engine, scenario ``peppol-mls-1.0``)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.as4 import (
    EbmsError,
    MlsIssue,
    MlsStatus,
    Sbdh,
    SbdhError,
    TrustStore,
    UntrustedCertificate,
    build_mls,
    mime,
    mls_sbdh,
    mls_wanted,
    outbound_state,
    parse_mls,
    parse_signal,
    spis_id,
    unwrap_sbdh,
    wrap_sbdh,
)
from gateway.as4.compression import DecompressionError, gunzip_capped, gzip_bytes
from gateway.as4.receipt import build_error
from tests.as4.as4_pki import issue
from tests.as4.as4_support import DOCTYPE, PROCESS, make_sbd


def test_sbdh_round_trip_keeps_every_field(invoice):
    sbd = make_sbd(invoice, "inst-42", mls_to="0242:000001", mls_type="FAILURE_ONLY")
    header, document = unwrap_sbdh(sbd)
    assert (header.sender, header.receiver, header.instance_id) == (
        "0088:5798000000001",
        "0088:7300010000001",
        "inst-42",
    )
    assert header.document_type_id == DOCTYPE and header.process_id == PROCESS
    assert (
        header.country_c1 == "DK"
        and header.mls_to == "0242:000001"
        and header.mls_type == "FAILURE_ONLY"
    )
    assert header.standard == "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    assert header.type == "Invoice" and header.type_version == "2.1"
    assert b"Snippet1" in document and b"StandardBusinessDocument" not in document


def test_sbdh_is_schema_valid_for_the_independent_implementation(invoice):
    from as4.resources.schemas.vendor.sbdh import SBDHSchema
    from lxml import etree

    root = etree.fromstring(make_sbd(invoice, "i", mls_to="0242:1", mls_type="ALWAYS_SEND"))
    assert SBDHSchema.validation_error(root[0]) is None


def test_sbdh_refuses_missing_scopes_and_bad_xml(invoice):
    sbd = make_sbd(invoice, "i").replace(b"COUNTRY_C1", b"SOMETHING")
    with pytest.raises(SbdhError, match="COUNTRY_C1"):
        unwrap_sbdh(sbd)
    with pytest.raises(SbdhError):
        unwrap_sbdh(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    with pytest.raises(SbdhError):
        wrap_sbdh(b"not xml", Sbdh("a", "b", DOCTYPE, PROCESS, "i", "DE"))


def test_mime_round_trip_is_byte_exact():
    blob = bytes(range(256)) * 100 + b"\r\n--not-a-boundary\r\n"
    body, ctype = mime.build(b"<soap/>", [("a@x", blob, "application/octet-stream")])
    parsed = mime.parse(body, ctype)
    assert parsed.soap == b"<soap/>" and parsed.attachments["a@x"].body == blob


def test_mime_refusals():
    with pytest.raises(mime.MimeError):
        mime.parse(b"x", "text/plain")
    with pytest.raises(mime.MimeError):
        mime.parse(
            b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<x/>",
            'multipart/related; boundary="b"',
        )


def test_gunzip_cap_stops_a_bomb_early():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with pytest.raises(DecompressionError) as info:
        gunzip_capped(bomb, 1024 * 1024)
    assert info.value.too_large
    assert gunzip_capped(gzip_bytes(b"hello"), 5) == b"hello"
    with pytest.raises(DecompressionError):
        gunzip_capped(b"not gzip", 100)
    with pytest.raises(DecompressionError):
        gunzip_capped(gzip_bytes(b"hello world")[:-6], 100)


async def test_trust_chain_validity_and_revocation(pki):
    trust = TrustStore([pki.root.cert], [pki.ap_ca.cert])
    chain = await trust.validate(pki.peer.cert)
    assert [c.subject for c in chain] == [
        pki.peer.cert.subject,
        pki.ap_ca.cert.subject,
        pki.root.cert.subject,
    ]
    with pytest.raises(UntrustedCertificate, match="anchor"):
        await trust.validate(pki.rogue.cert)
    expired = issue("POP000009", pki.ap_ca, ca=False, days=-1, not_before_days=-10, key_label="exp")
    with pytest.raises(UntrustedCertificate, match="validity"):
        await trust.validate(expired.cert)
    with pytest.raises(UntrustedCertificate, match="validity"):
        await trust.validate(pki.peer.cert, at=datetime.now(UTC) + timedelta(days=400))
    # without the intermediate the leaf does not chain
    with pytest.raises(UntrustedCertificate):
        await TrustStore([pki.root.cert]).validate(pki.peer.cert)

    calls: list[str] = []

    async def revoked(cert, issuer) -> bool:
        calls.append(cert.subject.rfc4514_string())
        return "POP000002" in cert.subject.rfc4514_string()

    checked = TrustStore([pki.root.cert], [pki.ap_ca.cert], revocation=revoked)
    with pytest.raises(UntrustedCertificate, match="revoked"):
        await checked.validate(pki.peer.cert)
    await checked.validate(pki.ours.cert)
    await checked.validate(pki.ours.cert)
    assert calls.count(pki.ours.cert.subject.rfc4514_string()) == 1  # cached


def test_error_signal_carries_code_and_reference(ours):
    answer = build_error(EbmsError("EBMS:0303", "too big"), "m-1", ours)
    signal, _ = parse_signal(answer)
    assert signal.ref_to_message_id == "m-1"
    [err] = signal.errors
    assert (err.code, err.short_description, err.detail) == (
        "EBMS:0303",
        "DecompressionFailure",
        "too big",
    )


def test_mls_build_parse_and_rules(invoice):
    received = unwrap_sbdh(
        make_sbd(invoice, "orig-1", mls_to="0242:000002", mls_type="FAILURE_ONLY")
    )[0]
    assert mls_wanted(received, accepted=False) and not mls_wanted(received, accepted=True)
    received.mls_type = "ALWAYS_SEND"
    assert mls_wanted(received, accepted=True)
    received.mls_to = None
    assert not mls_wanted(received, accepted=False)
    received.mls_to = "0242:000002"
    header = mls_sbdh(received, "POP000001", "DK")
    assert (header.sender, header.receiver) == ("0242:000001", "0242:000002") and spis_id(
        "POP000123"
    ) == "0242:000123"

    status = MlsStatus(
        "RE",
        "orig-1",
        "0242:000001",
        "0242:000002",
        "Rejected",
        [MlsIssue("BV", "[BR-01] missing", "/Invoice/cbc:ID"), MlsIssue("FD", "no route")],
    )
    parsed = parse_mls(build_mls(status))
    assert (
        parsed.response_code == "RE"
        and not parsed.accepted
        and outbound_state(parsed) == "rejected_by_recipient"
    )
    assert [(i.reason, i.line_id) for i in parsed.issues] == [
        ("BV", "/Invoice/cbc:ID"),
        ("FD", "NA"),
    ]
    assert (parsed.sender, parsed.receiver, parsed.referenced_instance_id) == (
        "0242:000001",
        "0242:000002",
        "orig-1",
    )
    assert (
        outbound_state(parse_mls(build_mls(MlsStatus("AB", "o", "0242:1", "0242:2"))))
        == "delivered_to_recipient"
    )
    with pytest.raises(ValueError):
        build_mls(MlsStatus("RE", "o", "0242:1", "0242:2"))  # RE needs issues


def test_corpus_mls_examples_parse(corpus_dir: Path):
    codes = {
        parse_mls(p.read_bytes()).response_code
        for p in sorted((corpus_dir / "peppol-mls").glob("*.xml"))
    }
    assert codes == {"AB", "AP", "RE"}


def test_generated_mls_passes_the_peppol_mls_scenario(installed_data_dir: Path):
    from gateway.validation import Engine

    engine = Engine(installed_data_dir / "artefacts")
    for status in (
        MlsStatus("AP", "orig-1", "0242:000001", "0242:000002"),
        MlsStatus("AB", "orig-1", "0242:000001", "0242:000002", "Accepted"),
        MlsStatus(
            "RE",
            "orig-1",
            "0242:000001",
            "0242:000002",
            "Rejected",
            [MlsIssue("BV", "[BR-01] missing", "/Invoice/cbc:ID"), MlsIssue("SV", "bad", "NA")],
        ),
    ):
        report = engine.validate(build_mls(status), "peppol-mls-1.0")
        assert report.status == "accepted", [f.message for f in report.findings]


async def test_receiver_and_sender_from_settings(tmp_path, pki, invoice, aiohttp_client):
    from cryptography.hazmat.primitives import serialization

    from gateway.as4 import As4Receiver, As4Sender, MemorySeenStore
    from gateway.as4.http import make_app
    from gateway.config import load_settings

    pem = serialization.Encoding.PEM
    files = {
        "root.pem": pki.root.cert.public_bytes(pem),
        "ca.pem": pki.ap_ca.cert.public_bytes(pem),
        "ap.pem": pki.ours.cert.public_bytes(pem),
        "ap.key": pki.ours.key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"s3cret")
        ),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    settings = load_settings(
        env={
            "GATEWAY_AS4_CERT_FILE": str(tmp_path / "ap.pem"),
            "GATEWAY_AS4_KEY_FILE": str(tmp_path / "ap.key"),
            "GATEWAY_AS4_KEY_PASSWORD": "s3cret",
            "GATEWAY_AS4_TRUST_ANCHORS": str(tmp_path / "root.pem"),
            "GATEWAY_AS4_INTERMEDIATES": str(tmp_path / "ca.pem"),
            "GATEWAY_AS4_MAX_DECOMPRESSED_BYTES": "1000000",
        }
    )
    delivered = []

    async def deliver(document, meta):
        delivered.append(meta)

    receiver = As4Receiver.from_settings(settings, MemorySeenStore(), deliver)
    assert receiver.identity.party_id == "POP000001"  # defaults to the certificate CN
    assert receiver.limits.max_decompressed_bytes == 1_000_000
    client = await aiohttp_client(make_app(receiver))
    sender = As4Sender.from_settings(settings)  # sends to itself: same identity both ends
    sbd = make_sbd(invoice, "settings-1")
    receipt = await sender.send(
        str(client.make_url("/as4")), pki.ours.cert, sbd, message_id="s-1@test"
    )
    assert receipt.is_receipt and delivered[0].sbdh.instance_id == "settings-1"
    await sender.aclose()
