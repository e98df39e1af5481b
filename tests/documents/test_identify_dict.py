"""``DocumentInfo.to_dict`` is built by hand for speed; it must say what ``asdict`` says."""

from __future__ import annotations

from dataclasses import asdict

from gateway.documents import XmlRefused, identify, parse_xml
from tests.conftest import CORPUS


def test_to_dict_is_asdict_plus_the_derived_facts() -> None:
    seen: set[str] = set()
    for path in sorted(CORPUS.rglob("*.xml")):
        try:
            info = identify(parse_xml(path.read_bytes()))
        except XmlRefused:
            continue
        expected = asdict(info) | {
            "kind": info.kind,
            "business_key": info.business_key(),
            "sender_endpoint": info.sender_endpoint,
            "receiver_endpoint": info.receiver_endpoint,
        }
        got = info.to_dict()
        assert got == expected, path
        got["seller"]["name"] = "changed"  # a copy: the report cannot change the info
        if got["responses"]:
            got["responses"][0].clear()
            assert info.responses[0]
        assert info.seller.name != "changed"
        seen.add(info.doc_type)
    assert {"Invoice", "CreditNote", "CrossIndustryInvoice", "ApplicationResponse"} <= seen
