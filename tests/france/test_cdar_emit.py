"""CDAR emission (issue 20, item 3): a tenant's action on a French invoice sends a CDAR to
the counterpart through the outbound queue, and the mandatory codes (210, 212, 213) a copy to
the state platform (0238:0000). Every message that reaches the access point is validated here
again with our own engine (XSD + BR-FR-CDV) and read back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gateway.france import parse_cdar
from tests.french_invoices import BUYER_SIREN, SELLER_SIREN, french_invoice

PLATFORM = {"france": {"platform_id": "0042", "platform_name": "Notre PA"}}


async def _cdars(gw: Any, count: int, validator: Any) -> list[Any]:
    """The CDAR messages the access point received (waits for ``count``), each validated."""
    for _ in range(200):
        bodies = [b for b in gw.ap.bodies if b"CrossDomainAcknowledgementAndResponse" in b]
        if len(bodies) >= count:
            break
        await asyncio.sleep(0.05)
    assert len(bodies) == count, len(bodies)
    out = []
    for body in bodies:
        report = await validator.validate(body)
        assert report.scenario == "fr-cdar-lifecycle"
        assert report.accepted and not report.findings, [f.to_dict() for f in report.findings]
        out.append(parse_cdar(body))
    gw.ap.bodies.clear()
    return out


async def test_buyer_actions_send_their_codes_and_mandatory_ones_go_to_the_state_platform(
    gw_factory: Any, corpus_dir: Path, validator: Any
) -> None:
    gw = await gw_factory(settings=PLATFORM)
    key = await gw.key("acheteur")
    await gw.participant("acheteur", f"0225:{BUYER_SIREN}")
    invoice = (await gw.receive(key, french_invoice(corpus_dir, number="F-100")))["id"]
    expected = [
        ("under_review", None, [("204", "0002", SELLER_SIREN)]),
        ("approved", None, [("205", "0002", SELLER_SIREN)]),
        ("paid", None, [("211", "0002", SELLER_SIREN)]),
    ]
    for status, reason, sent in expected:
        code, body = await gw.call(
            "POST",
            key,
            f"/v1/documents/{invoice}/status",
            json={"status": status, "reason": reason},
        )
        assert code == 200, body
        got = await _cdars(gw, len(sent), validator)
        assert [(m.code, m.recipients[0].scheme, m.recipients[0].id) for m in got] == sent
        assert all(m.issuer.siren == BUYER_SIREN and m.invoice_number == "F-100" for m in got)
    # A refusal needs a reason code (BR-FR-CDV-15) and is mandatory: seller + state platform.
    second = (await gw.receive(key, french_invoice(corpus_dir, number="F-101")))["id"]
    code, body = await gw.call(
        "POST",
        key,
        f"/v1/documents/{second}/status",
        json={"status": "rejected", "reason": "TX_TVA_ERR: Taux de TVA erroné"},
    )
    assert code == 200, body
    seller_copy, state_copy = sorted(
        await _cdars(gw, 2, validator), key=lambda m: m.for_state_platform
    )
    assert seller_copy.code == state_copy.code == "210"
    assert (
        seller_copy.reasons
        == state_copy.reasons
        == [{"code": "TX_TVA_ERR", "text": "Taux de TVA erroné"}]
    )
    assert state_copy.for_state_platform and state_copy.profile.endswith("einvoicingF2")
    # Each sent row followed its outbound item to the access point (as Invoice Responses do).
    for _ in range(200):
        _, listed = await gw.call("GET", key, "/v1/france/cdar?direction=sent")
        if all(i["state"] == "delivered" for i in listed["items"]):
            break
        await asyncio.sleep(0.05)
    assert [(i["code"], i["state"], i["receiver"]) for i in listed["items"]] == [
        ("204", "delivered", f"0002:{SELLER_SIREN}"),
        ("205", "delivered", f"0002:{SELLER_SIREN}"),
        ("211", "delivered", f"0002:{SELLER_SIREN}"),
        ("210", "delivered", f"0002:{SELLER_SIREN}"),
        ("210", "delivered", "0238:0000"),
    ]
    for item in listed["items"]:
        assert (await gw.doc(key, item["document_id"]))["status"] == "delivered"


async def test_a_doublon_answers_the_new_delivery_with_213(
    gw_factory: Any, corpus_dir: Path, validator: Any
) -> None:
    gw = await gw_factory(settings=PLATFORM)
    key = await gw.key("acheteur")
    await gw.participant("acheteur", f"0225:{BUYER_SIREN}")
    first = await gw.receive(key, french_invoice(corpus_dir, number="F-200"))
    second = await gw.receive(key, french_invoice(corpus_dir, number="F-200", rate="10"))
    assert second["status"] == "duplicate"
    to_seller, to_state = sorted(await _cdars(gw, 2, validator), key=lambda m: m.for_state_platform)
    assert to_seller.code == to_state.code == "213"
    assert to_seller.reasons[0]["code"] == "DOUBLON" and to_seller.issuer.role == "WK"
    _, listed = await gw.call("GET", key, "/v1/france/cdar?direction=sent")
    assert {i["invoice_id"] for i in listed["items"]} == {second["id"]}  # the new delivery only
    assert (await gw.doc(key, first["id"]))["canonical_status"] == first["status"]


async def test_the_seller_recording_payment_sends_212_with_amount_and_rate(
    gw_factory: Any, corpus_dir: Path, validator: Any
) -> None:
    gw = await gw_factory(settings=PLATFORM)
    key = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER_SIREN}")
    invoice = await gw.send_invoice(key, french_invoice(corpus_dir, number="F-300"))
    (deposited,) = await _cdars(gw, 1, validator)  # sending it: 200 Déposée to the state
    assert deposited.code == "200"
    code, body = await gw.call(
        "POST", key, f"/v1/documents/{invoice}/status", json={"status": "paid"}
    )
    assert code == 200, body
    to_buyer, to_state = sorted(await _cdars(gw, 2, validator), key=lambda m: m.for_state_platform)
    assert to_buyer.code == "212" and to_buyer.issuer.siren == SELLER_SIREN
    assert to_buyer.recipients[0].id == BUYER_SIREN
    men = to_state.characteristics[0]
    assert (men.type_code, men.amount, men.percent) == ("MEN", "176.40", "20.00")


async def test_without_a_platform_id_the_state_copy_is_recorded_as_not_sent(
    gw_factory: Any, corpus_dir: Path, validator: Any
) -> None:
    gw = await gw_factory()
    key = await gw.key("acheteur")
    await gw.participant("acheteur", f"0225:{BUYER_SIREN}")
    invoice = (await gw.receive(key, french_invoice(corpus_dir, number="F-400")))["id"]
    await gw.call(
        "POST",
        key,
        f"/v1/documents/{invoice}/status",
        json={"status": "rejected", "reason": "non conforme"},
    )
    (only,) = await _cdars(gw, 1, validator)
    # No reason code given: the refusal's default one (AUTRE is not allowed with 210).
    assert only.reasons == [{"code": "NON_CONFORME", "text": "non conforme"}]
    _, listed = await gw.call("GET", key, "/v1/france/cdar?direction=sent")
    states = [(i["state"], i["receiver"]) for i in listed["items"]]
    assert states[1] == ("not-sent", "0238:0000")
    # The seller's copy follows its outbound item (queued, sent, then delivered).
    assert states[0][1] == f"0002:{SELLER_SIREN}"
    assert states[0][0] in ("queued", "sent", "delivered")
    assert "platform_id" in listed["items"][1]["detail"]


async def test_a_tenant_that_does_not_own_the_buyer_sends_nothing(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory(settings=PLATFORM)
    key = await gw.key("intrus")  # holds a copy of someone else's invoice
    invoice = (await gw.receive(key, french_invoice(corpus_dir, number="F-500")))["id"]
    await gw.call("POST", key, f"/v1/documents/{invoice}/status", json={"status": "approved"})
    _, listed = await gw.call("GET", key, "/v1/france/cdar?direction=sent")
    assert [i["state"] for i in listed["items"]] == ["not-sent"]
    await asyncio.sleep(0.3)
    assert not [b for b in gw.ap.bodies if b"CrossDomainAcknowledgementAndResponse" in b]


async def test_sending_a_french_invoice_gives_200_and_201_and_the_200_goes_to_the_state(
    gw_factory: Any, corpus_dir: Path, validator: Any
) -> None:
    gw = await gw_factory(settings=PLATFORM)
    key = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER_SIREN}")
    invoice = await gw.send_invoice(key, french_invoice(corpus_dir, number="F-500"))
    # The AP got the invoice and, for the state platform, a valid 200 (re-validated here).
    (to_state,) = await _cdars(gw, 1, validator)
    assert (to_state.code, to_state.for_state_platform) == ("200", True)
    assert to_state.recipients[0].id == "0000" and to_state.invoice_number == "F-500"
    for _ in range(200):
        _, listed = await gw.call("GET", key, "/v1/france/cdar?direction=sent")
        rows = {(i["code"], i["receiver"]): i for i in listed["items"]}
        if len(rows) == 3 and rows[("200", "0238:0000")]["state"] == "delivered":
            break
        await asyncio.sleep(0.05)
    assert set(rows) == {
        ("200", f"0002:{SELLER_SIREN}"),
        ("200", "0238:0000"),
        ("201", f"0002:{SELLER_SIREN}"),
    }
    assert rows[("200", f"0002:{SELLER_SIREN}")]["state"] == "delivered-locally"
    assert rows[("201", f"0002:{SELLER_SIREN}")]["state"] == "delivered-locally"
    assert rows[("200", "0238:0000")]["state"] == "delivered"
    assert all(i["invoice_id"] == invoice for i in listed["items"])
    body = await gw.doc(key, invoice)
    assert {c["code"] for c in body["cdar_statuses"]} == {"200", "201"}


async def test_no_issuer_statuses_when_emission_is_off(gw_factory: Any, corpus_dir: Path) -> None:
    gw = await gw_factory(settings={"france": {**PLATFORM["france"], "emit": False}})
    key = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER_SIREN}")
    await gw.send_invoice(key, french_invoice(corpus_dir, number="F-501"))
    await asyncio.sleep(0.5)
    _, listed = await gw.call("GET", key, "/v1/france/cdar?direction=sent")
    assert listed["items"] == []
    assert not [b for b in gw.ap.bodies if b"CrossDomainAcknowledgementAndResponse" in b]
