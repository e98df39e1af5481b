"""The outbound UserMessage laid out once and copied per message (``gateway.as4.prototype``):
a filled copy is byte for byte the tree the same layout builds with the values directly, the
copies share nothing, and what a message says it signed is what its XML carries."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.as4 import mime, ns
from gateway.as4.message import build_user_message, layout, message_values, prototype
from gateway.as4.prototype import Prototype, build
from gateway.as4.wssec import Ref, q, sub
from tests.as4.as4_support import make_sbd


def _values(ours, header, **extra: str) -> dict[str, str]:
    values = message_values(ours, header, "m-1@test", "conv-1", "POP000002")
    values.update(timestamp="2026-12-02T04:00:00.000Z", receiver_bst="QUJD", **extra)
    return values


def _tostring(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_a_filled_copy_is_the_direct_build_byte_for_byte(ours, invoice):
    from gateway.as4.message import sbdh_of

    header = sbdh_of(make_sbd(invoice, "i-1"))
    # Values that need escaping in text and attributes, and braces (str.format's syntax).
    hostile = {"from": "a&b<c>\"d'{e}", "service_type": 'x{y}&"z', "cid": "c{0}@h"}
    for values in (_values(ours, header), _values(ours, header, **hostile)):
        direct = build(layout, values)
        copied = prototype().make(values)
        assert _tostring(copied.root) == _tostring(direct.root)
        assert (
            set(copied.marks)
            == set(direct.marks)
            == {
                "security",
                "messaging",
                "body",
                "signature",
            }
        )
        for name, element in copied.marks.items():
            assert element.getroottree().getroot() is copied.root
            assert _tostring(element) == _tostring(direct.marks[name])


def test_every_slot_is_needed_and_copies_share_nothing(ours, invoice):
    from gateway.as4.message import sbdh_of

    values = _values(ours, sbdh_of(make_sbd(invoice, "i-2")))
    assert prototype().names == set(values)
    incomplete = dict(values)
    del incomplete["conversation_id"]
    with pytest.raises(KeyError):
        prototype().make(incomplete)
    first, second = prototype().make(values), prototype().make(values)
    first.marks["body"].set("changed", "yes")
    assert second.marks["body"].get("changed") is None
    assert _tostring(second.root) == _tostring(prototype().make(values).root)


def test_a_slot_in_a_tail_is_refused():
    def tailed(slot):
        root = etree.Element("r")
        sub(root, "urn:x", "a").tail = slot("t")
        return root

    with pytest.raises(ValueError, match="tail"):
        Prototype(tailed)


def test_the_references_returned_are_those_in_the_message(ours, pki, invoice):
    sbd = make_sbd(invoice, "i-3")
    message = build_user_message(ours, pki.peer.cert, sbd, message_id="m-3@test")
    soap = mime.parse(message.body, message.content_type).soap
    signed_info = etree.fromstring(soap).find(f".//{q(ns.DS, 'SignedInfo')}")
    in_xml = [Ref.from_element(r) for r in signed_info.iterfind(q(ns.DS, "Reference"))]
    assert message.signed == in_xml and len(in_xml) == 3
    assert all(r.digest_value for r in in_xml)
    # Two messages share no id: each is laid out with fresh ones.
    again = build_user_message(ours, pki.peer.cert, sbd, message_id="m-3@test")
    ids = {r.uri for r in message.signed} & {r.uri for r in again.signed}
    assert ids == set()
