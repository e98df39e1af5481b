"""Which channels prove an Invoice Response's sender: AS4 (signed by the AP the invoice went to,
SBDH sender = response sender) and REST by the tenant owning the sender id apply at once;
everything else is held or refused, and an admin's vouching is recorded."""

from __future__ import annotations

from typing import Any

from gateway.as4 import As4Outbound
from gateway.inbound import Submission
from gateway.web import INTAKE
from tests.live_gateway import BUYER, SELLER, invoice_response

NUMBER = "PROOF-2024-1"


def _as4(ap: str, sbdh_sender: str = BUYER) -> dict[str, Any]:
    return {
        "as4": {
            "from_party": ap,
            "signer_subject": f"CN={ap},O=Test AP,C=BE",
            "signer_fingerprint": "ab" * 32,
            "sbdh": {"sender": sbdh_sender, "receiver": SELLER},
        }
    }


async def _setup(gw_factory: Any, make_invoice: Any) -> tuple[Any, str, str]:
    gw = await gw_factory()
    key = await gw.key("acme")
    await gw.participant("acme", SELLER)
    raw = make_invoice(gw.base_invoice, number=NUMBER, seller=SELLER, buyer=BUYER)
    return gw, key, await gw.send_invoice(key, raw)


async def _as4_response(gw: Any, raw: bytes, meta: dict[str, Any]) -> None:
    await gw.app[INTAKE].submit(Submission(raw, "as4", "acme", metadata=meta))


async def test_as4_from_the_buyers_access_point_applies(gw_factory: Any, make_invoice: Any) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    async with gw.db.write() as s:  # the invoice went to POP000002 over AS4
        s.add(As4Outbound(document_id=inv, message_id="m1", instance_id="i1", sbd=b""))
        await s.flush()
        row = await s.get(As4Outbound, inv)
        row.receiver_party = "POP000002"

    await _as4_response(gw, invoice_response("UQ", "q-1", NUMBER), _as4("POP000099"))
    await _as4_response(
        gw, invoice_response("UQ", "q-2", NUMBER), _as4("POP000002", sbdh_sender="0196:1111111111")
    )
    body = await gw.doc(key, inv)
    assert body["status"] == "delivered"
    details = [(r["response_id"], r["state"], r["detail"]) for r in body["invoice_responses"]]
    assert details[0][:2] == ("q-1", "refused")
    assert "delivered to access point POP000002" in details[0][2]
    assert details[1][:2] == ("q-2", "refused")
    assert "sent it for 0196:1111111111" in details[1][2]

    await _as4_response(gw, invoice_response("AP", "a-1", NUMBER), _as4("POP000002"))
    body = await gw.doc(key, inv)
    assert body["status"] == "accepted"
    assert body["history"][-1]["actor"] == f"imr:{BUYER} via as4 ap:POP000002"
    assert body["invoice_responses"][-1]["proof"]["outcome"] == "proven"


async def test_rest_proves_only_a_sender_the_tenant_owns(
    gw_factory: Any, make_invoice: Any
) -> None:
    gw, key, inv = await _setup(gw_factory, make_invoice)
    held = await gw.receive(key, invoice_response("UQ", "u-1", NUMBER))
    body = await gw.doc(key, inv)
    assert body["status"] == "delivered"
    [resp] = body["invoice_responses"]
    assert resp["state"] == "held" and "does not own the sender participant" in resp["detail"]
    assert resp["document_id"] == held["id"]

    # Only admins vouch, only for held responses of their own tenant.
    reader = await gw.key("acme", "read")
    status, problem = await gw.call("POST", reader, f"/v1/admin/responses/{resp['id']}/apply")
    assert status == 403
    other = await gw.key("other")
    status, problem = await gw.call("POST", other, f"/v1/admin/responses/{resp['id']}/apply")
    assert status == 404
    status, applied = await gw.call(
        "POST",
        key,
        f"/v1/admin/responses/{resp['id']}/apply",
        json={"reason": "confirmed with the buyer by phone", "actor": "Sam"},
    )
    assert status == 200 and applied["state"] == "applied", applied
    assert applied["vouched_by"]["reason"] == "confirmed with the buyer by phone"
    body = await gw.doc(key, inv)
    assert body["status"] == "under_query"
    key_id = key.split("_")[1]
    assert body["history"][-1]["actor"] == (
        f"imr:{BUYER} via api tenant:acme key:{key_id} vouched for by key:{key_id} (Sam)"
    )
    status, problem = await gw.call("POST", key, f"/v1/admin/responses/{resp['id']}/apply")
    assert status == 409 and problem["code"] == "not-held"

    # A tenant that owns the buyer id too (both sides on one tenant) is proven at once.
    await gw.participant("acme", BUYER)
    await gw.receive(key, invoice_response("AP", "a-1", NUMBER))
    assert (await gw.doc(key, inv))["status"] == "accepted"


async def test_a_held_copy_that_came_first_does_not_block_the_proven_one(
    gw_factory: Any, make_invoice: Any
) -> None:
    """The intake claims a response's bytes for the first copy; when that copy proves nothing
    (held), a later copy with proof is still judged and applied, not left a mere duplicate."""
    gw, key, inv = await _setup(gw_factory, make_invoice)
    message = invoice_response("AP", "ff-1", NUMBER)
    first = await gw.receive(key, message)  # acme does not own the buyer (yet): held
    assert [r["state"] for r in (await gw.doc(key, inv))["invoice_responses"]] == ["held"]
    await gw.participant("acme", BUYER)  # now REST by acme proves the buyer
    second = await gw.receive(key, message)
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["id"]
    body = await gw.doc(key, inv)
    assert body["status"] == "accepted"
    states = {r["document_id"]: r["state"] for r in body["invoice_responses"]}
    assert states == {first["id"]: "held", second["id"]: "applied"}
