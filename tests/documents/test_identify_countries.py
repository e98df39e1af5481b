"""Identification reads each party's country, so Peppol reporting does not parse a received
document again for its C4: on every corpus document the buyer's and seller's countries are
what ``gateway.as4.countries`` (reporting's own parse, still used for outbound payloads) reads."""

from __future__ import annotations

from gateway.as4 import countries
from gateway.documents import XmlRefused, identify, parse_xml
from tests.conftest import CORPUS


def test_identification_carries_the_countries_reporting_reads() -> None:
    compared = 0
    for path in sorted(CORPUS.rglob("*.xml")):
        raw = path.read_bytes()
        try:
            info = identify(parse_xml(raw))
        except XmlRefused:
            continue
        if info.syntax not in ("ubl", "cii") or info.doc_type == "ApplicationResponse":
            continue
        seller, buyer = countries(raw)
        got = ((info.seller.country or "").upper()[:2], (info.buyer.country or "").upper()[:2])
        assert got == (seller, buyer), path
        compared += bool(buyer)
    assert compared > 100  # the suites name their buyers' countries
