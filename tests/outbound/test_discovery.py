"""SML (real DNS responder on loopback) + SMP (real aiohttp server, signed answers)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import aiohttp
import pytest

from gateway.outbound.discovery import (
    Discovery,
    cname_name,
    lookup_smp,
    make_resolver,
    naptr_name,
    sml_zone,
)
from gateway.outbound.errors import PermanentError
from gateway.outbound.identifiers import Identifier, participant_id
from tests.loopback import start
from tests.outbound.dnsserver import DnsServer
from tests.outbound.pki import KeyPair, make_ca, make_leaf
from tests.outbound.smpserver import Published, SmpServer

ZONE = "sml.test.example"
PID = "iso6523-actorid-upis::0088:5790000435975"
DOCTYPE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
PROCESS = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


def ident(text: str) -> Identifier:
    scheme, value = text.split("::", 1)
    return Identifier(scheme, value)


def test_dns_names_follow_the_peppol_spec() -> None:
    pid = participant_id("0088:5790000435975")
    digest = hashlib.sha256(b"0088:5790000435975").digest()
    expected = base64.b32encode(digest).decode().rstrip("=")
    assert naptr_name(pid, ZONE) == f"{expected}.iso6523-actorid-upis.{ZONE}"
    assert "=" not in naptr_name(pid, ZONE)
    md5 = hashlib.md5(b"0088:5790000435975").hexdigest()
    assert cname_name(pid, ZONE) == f"B-{md5}.iso6523-actorid-upis.{ZONE}"
    # Participant ids are case-insensitive: the hash is over the lower-cased value.
    upper, lower = participant_id("9915:ABC"), participant_id("9915:abc")
    assert naptr_name(upper, ZONE) == naptr_name(lower, ZONE)


async def test_naptr_lookup(dns_server: DnsServer) -> None:
    pid = participant_id(PID)
    name = naptr_name(pid, ZONE)
    dns_server.add(name, "NAPTR", '10 100 "U" "Meta:SMP" "!^.*$!http://smp.example.test/!" .')
    resolver = make_resolver(f"127.0.0.1:{dns_server.port}", timeout=2)
    result = await lookup_smp(pid, ZONE, resolver, allow_http=True)
    assert (result.smp_url, result.method) == ("http://smp.example.test", "naptr")
    assert (name.lower(), "NAPTR") in dns_server.queries
    # 2026 rules by default: an http SMP is refused, https accepted.
    with pytest.raises(PermanentError) as err:
        await lookup_smp(pid, ZONE, resolver)
    assert err.value.code == "smp-not-https"
    other = participant_id("0088:5790000435976")
    dns_server.add(
        naptr_name(other, ZONE),
        "NAPTR",
        '10 100 "U" "Meta:SMP" "!^.*$!https://smp.example.test/!" .',
    )
    assert (await lookup_smp(other, ZONE, resolver)).smp_url == "https://smp.example.test"


async def test_cname_fallback_and_unknown_receiver(dns_server: DnsServer) -> None:
    pid = participant_id(PID)
    classic = cname_name(pid, ZONE)
    dns_server.add(classic, "CNAME", "smp.example.test.")
    dns_server.add("smp.example.test", "A", "127.0.0.1")
    resolver = make_resolver(f"127.0.0.1:{dns_server.port}", timeout=2)
    # NAPTR only by default: the classic record is never asked for.
    with pytest.raises(PermanentError) as err:
        await lookup_smp(pid, ZONE, resolver)
    assert err.value.code == "unknown-receiver"
    assert (classic.lower(), "A") not in dns_server.queries
    result = await lookup_smp(pid, ZONE, resolver, cname_fallback=True)
    assert result.method == "cname"
    assert result.smp_url == f"http://{classic.lower()}"
    with pytest.raises(PermanentError) as err:
        await lookup_smp(participant_id("0088:999"), ZONE, resolver, cname_fallback=True)
    assert err.value.code == "unknown-receiver"


def test_sml_presets_and_participant_id_length() -> None:
    assert sml_zone("peppol-prod") == "participant.sml.prod.tech.peppol.org"
    assert sml_zone("peppol-test") == "participant.sml.test.tech.peppol.org"
    assert sml_zone("sml.private.example.") == "sml.private.example"
    assert sml_zone("off") == sml_zone("") == ""
    longest = "0088:" + "a" * 125
    assert participant_id(longest).value == longest
    with pytest.raises(ValueError, match="130"):
        participant_id(longest + "b")


@pytest.fixture
async def smp(smp_signer: KeyPair) -> SmpServer:
    server = SmpServer(signer=smp_signer)
    runner, server.base_url = await start(server.app())
    yield server
    await runner.cleanup()


async def _discovery(
    session: aiohttp.ClientSession,
    dns: DnsServer,
    smp: SmpServer,
    anchor: Path,
    pid: str = PID,
    **kw: object,
) -> Discovery:
    dns.add(
        naptr_name(participant_id(pid), ZONE),
        "NAPTR",
        f'10 100 "U" "Meta:SMP" "!^.*$!{smp.base_url}!" .',
    )
    return Discovery.create(
        session,
        zone=ZONE,
        dns_server=f"127.0.0.1:{dns.port}",
        trust_anchors=[str(anchor)],
        ttl=60,
        timeout=5,
        **{"allow_http": True, **kw},  # the loopback SMP speaks http
    )


async def test_full_discovery_with_signed_smp_and_cache(
    tmp_path: Path, dns_server: DnsServer, smp: SmpServer, smp_ca: KeyPair
) -> None:
    ap = make_leaf(make_ca("AP CA"), "AP")
    smp.entries.append(Published(PID, DOCTYPE, PROCESS, "https://ap.example.test/as4", ap_cert=ap))
    anchor = tmp_path / "smp-ca.pem"
    smp_ca.write_cert(anchor)
    async with aiohttp.ClientSession() as session:
        disc = await _discovery(session, dns_server, smp, anchor)
        eps = await disc.endpoints("0088:5790000435975", ident(DOCTYPE), ident(PROCESS))
        assert len(eps) == 1
        ep = eps[0]
        assert (ep.url, ep.transport, ep.source) == ("https://ap.example.test/as4", "as4", "smp")
        assert ep.profile == "peppol-transport-as4-v2_0"
        assert ep.certificate == ap.cert_pem.decode()
        # ServiceGroup then SignedServiceMetadata.
        assert len(smp.requests) == 2
        assert smp.requests[1].endswith("/services/" + DOCTYPE)
        # Cached: no new DNS or HTTP traffic for the second lookup.
        queries = len(dns_server.queries)
        again = await disc.endpoints("0088:5790000435975", ident(DOCTYPE), ident(PROCESS))
        assert again == eps
        assert len(smp.requests) == 2 and len(dns_server.queries) == queries

        with pytest.raises(PermanentError) as err:
            other = ident(PROCESS.replace("billing:01", "billing:99"))
            disc.smp_cache.invalidate()
            await disc.endpoints("0088:5790000435975", ident(DOCTYPE), other)
        assert err.value.code == "process-not-supported"

        with pytest.raises(PermanentError) as err:
            await disc.endpoints("0088:5790000435975", ident(DOCTYPE + "x"), ident(PROCESS))
        assert err.value.code == "doctype-not-supported"


async def test_tampered_or_untrusted_smp_answers_are_refused(
    tmp_path: Path, dns_server: DnsServer, smp: SmpServer, smp_ca: KeyPair
) -> None:
    smp.entries.append(Published(PID, DOCTYPE, PROCESS, "https://ap.example.test/as4"))
    anchor = tmp_path / "smp-ca.pem"
    smp_ca.write_cert(anchor)
    async with aiohttp.ClientSession() as session:
        smp.tamper = True
        disc = await _discovery(session, dns_server, smp, anchor)
        with pytest.raises(PermanentError) as err:
            await disc.endpoints(PID, ident(DOCTYPE), ident(PROCESS))
        assert err.value.code == "smp-bad-signature"

        smp.tamper = False
        stranger = tmp_path / "other-ca.pem"
        make_ca("Some Other CA").write_cert(stranger)
        disc = Discovery.create(
            session,
            zone=ZONE,
            dns_server=f"127.0.0.1:{dns_server.port}",
            trust_anchors=[str(stranger)],
            ttl=60,
            timeout=5,
            allow_http=True,
        )
        with pytest.raises(PermanentError) as err:
            await disc.endpoints(PID, ident(DOCTYPE), ident(PROCESS))
        assert err.value.code == "smp-untrusted-certificate"

        # And with our CA the very same answer is accepted.
        disc = await _discovery(session, dns_server, smp, anchor)
        eps = await disc.endpoints(PID, ident(DOCTYPE), ident(PROCESS))
        assert eps[0].url == "https://ap.example.test/as4"


async def test_discovery_of_a_130_character_participant(
    tmp_path: Path, dns_server: DnsServer, smp: SmpServer, smp_ca: KeyPair
) -> None:
    long_pid = "iso6523-actorid-upis::0088:" + "7" * 125
    smp.entries.append(Published(long_pid, DOCTYPE, PROCESS, "https://ap.example.test/long"))
    anchor = tmp_path / "smp-ca.pem"
    smp_ca.write_cert(anchor)
    async with aiohttp.ClientSession() as session:
        disc = await _discovery(session, dns_server, smp, anchor, pid=long_pid)
        eps = await disc.endpoints(long_pid.split("::")[1], ident(DOCTYPE), ident(PROCESS))
        assert eps[0].url == "https://ap.example.test/long"


async def test_default_discovery_refuses_an_http_smp(
    tmp_path: Path, dns_server: DnsServer, smp: SmpServer, smp_ca: KeyPair
) -> None:
    smp.entries.append(Published(PID, DOCTYPE, PROCESS, "https://ap.example.test/as4"))
    anchor = tmp_path / "smp-ca.pem"
    smp_ca.write_cert(anchor)
    async with aiohttp.ClientSession() as session:
        disc = await _discovery(session, dns_server, smp, anchor, allow_http=False)
        with pytest.raises(PermanentError) as err:
            await disc.endpoints(PID, ident(DOCTYPE), ident(PROCESS))
        assert err.value.code == "smp-not-https" and smp.requests == []
