"""OCSP then CRL against a real responder and CRL server on loopback: good, revoked, unknown,
unreachable, forged; hard-fail vs soft-fail; answers cached until their nextUpdate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.revocation import (
    CertificateRevoked,
    RevocationChecker,
    RevocationUnavailable,
    crl_urls,
    ocsp_urls,
)


@pytest.fixture
async def checker(clock):
    made: list[RevocationChecker] = []

    def make(mode: str = "hard-fail") -> RevocationChecker:
        made.append(RevocationChecker(mode, timeout=3.0, clock=clock))
        return made[-1]

    yield make
    for c in made:
        await c.aclose()


def test_urls_come_from_aia_and_distribution_points(rv_pki):
    assert ocsp_urls(rv_pki.good.cert) == [f"{rv_pki.base_url}/ocsp"]
    assert crl_urls(rv_pki.good.cert) == [f"{rv_pki.base_url}/crl"]
    assert ocsp_urls(rv_pki.ca.cert) == [] and crl_urls(rv_pki.ca.cert) == []


async def test_good_certificate_by_ocsp_and_cached_until_next_update(
    checker, responder, rv_pki, clock
):
    check = checker()
    status = await check.check(rv_pki.good.cert, rv_pki.ca.cert)
    assert status.state == "good" and status.source.startswith("ocsp ")
    for _ in range(5):
        await check.check(rv_pki.good.cert, rv_pki.ca.cert)
    assert responder.hits == {"ocsp": 1}  # cached: one request for six checks
    clock.advance(responder.freshness - timedelta(minutes=1))
    await check.check(rv_pki.good.cert, rv_pki.ca.cert)
    assert responder.hits["ocsp"] == 1  # still before nextUpdate
    clock.advance(timedelta(minutes=2))
    await check.check(rv_pki.good.cert, rv_pki.ca.cert)
    assert responder.hits["ocsp"] == 2  # nextUpdate passed: asked again


async def test_revoked_certificate_is_refused_in_both_modes(checker, responder, rv_pki):
    for mode in ("hard-fail", "soft-fail"):
        with pytest.raises(CertificateRevoked, match=r"revoked .*key_compromise.*ocsp"):
            await checker(mode).check(rv_pki.revoked.cert, rv_pki.ca.cert)
    assert responder.hits == {"ocsp": 2}  # OCSP answered; the CRL was never needed


async def test_unknown_to_ocsp_falls_back_to_the_crl(checker, responder, rv_pki):
    status = await checker().check(rv_pki.unknown.cert, rv_pki.ca.cert)
    assert status.state == "good" and status.source.startswith("crl ")
    assert responder.hits == {"ocsp": 1, "crl": 1}
    responder.revoked.add(rv_pki.unknown.cert.serial_number)
    with pytest.raises(CertificateRevoked, match="crl"):
        await checker().check(rv_pki.unknown.cert, rv_pki.ca.cert)


async def test_ocsp_down_uses_the_crl_and_the_crl_is_cached(checker, responder, rv_pki):
    responder.ocsp_down = True
    check = checker()
    with pytest.raises(CertificateRevoked, match="crl"):
        await check.check(rv_pki.revoked.cert, rv_pki.ca.cert)
    assert (await check.check(rv_pki.good.cert, rv_pki.ca.cert)).state == "good"
    assert responder.hits["crl"] == 1  # one CRL download answers for every certificate


async def test_unreachable_hard_fail_refuses_soft_fail_accepts(checker, responder, rv_pki):
    with pytest.raises(RevocationUnavailable, match="unreachable"):
        await checker("hard-fail").check(rv_pki.unreachable.cert, rv_pki.ca.cert)
    status = await checker("soft-fail").check(rv_pki.unreachable.cert, rv_pki.ca.cert)
    assert status.state == "unknown"
    # Unknown everywhere (OCSP unknown, CRL down) is the same decision.
    responder.crl_down = True
    with pytest.raises(RevocationUnavailable, match="HTTP 503"):
        await checker("hard-fail").check(rv_pki.unknown.cert, rv_pki.ca.cert)
    assert (
        await checker("soft-fail").check(rv_pki.unknown.cert, rv_pki.ca.cert)
    ).state == "unknown"
    # ... and a soft-fail still refuses what is proven revoked.
    with pytest.raises(CertificateRevoked):
        await checker("soft-fail").check(rv_pki.revoked.cert, rv_pki.ca.cert)


async def test_failures_are_not_cached(checker, responder, rv_pki):
    check = checker()
    responder.ocsp_down = responder.crl_down = True
    with pytest.raises(RevocationUnavailable):
        await check.check(rv_pki.good.cert, rv_pki.ca.cert)
    responder.ocsp_down = responder.crl_down = False
    assert (await check.check(rv_pki.good.cert, rv_pki.ca.cert)).state == "good"


async def test_forged_answers_count_for_nothing(checker, responder, rv_pki):
    responder.forge = True  # OCSP and CRL signed by a key that is not the issuer's
    with pytest.raises(RevocationUnavailable, match="not signed by"):
        await checker("hard-fail").check(rv_pki.revoked.cert, rv_pki.ca.cert)


async def test_stale_answers_are_refused(checker, responder, rv_pki, clock):
    responder.freshness = timedelta(minutes=-30)  # nextUpdate already passed when served
    with pytest.raises(RevocationUnavailable, match="stale"):
        await checker().check(rv_pki.good.cert, rv_pki.ca.cert)


async def test_off_checks_nothing(checker, responder, rv_pki):
    assert (await checker("off").check(rv_pki.revoked.cert, rv_pki.ca.cert)).state == "unchecked"
    assert responder.hits == {}


def test_mode_is_checked():
    with pytest.raises(ValueError, match="hard-fail"):
        RevocationChecker("sometimes")
