"""A message that arrives first without proof does not block the real one (issue 20).

The intake claims a document's bytes and business key for whatever arrives first. A CDAR handed
in first by a party that proves nothing (REST by a tenant that does not own the buyer it speaks
for: ``held``) used to make the real one, arriving later with proof, a ``duplicate`` document
that was never judged: the buyer's 205 was lost. Now the copy of an unproven message is judged
on its own proof: it applies, and the held first copy still changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.france.flow.client import BUYER, cdar_example, get_flow, sold_invoice


async def test_a_held_copy_that_came_first_does_not_block_the_proven_one(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key, invoice_id = await sold_invoice(gw, corpus_dir)
    message = cdar_example(corpus_dir, "5")  # the buyer's 205 Approuvée
    first = await gw.receive(key, message)  # proves nothing about the buyer: held
    held = (await gw.doc(key, first["id"]))["cdar_statuses"]
    assert [(r["code"], r["state"]) for r in held] == [("205", "held")]
    assert (await gw.doc(key, invoice_id))["canonical_status"] == "delivered"

    await gw.participant("vendeur", f"0225:{BUYER}")  # now REST by this tenant proves the buyer
    second = await gw.receive(key, message)
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["id"]
    rows = [
        r
        for r in (await gw.doc(key, second["id"]))["cdar_statuses"]
        if r["document_id"] == second["id"]
    ]
    assert [(r["code"], r["state"]) for r in rows] == [("205", "applied")]
    assert (await gw.doc(key, invoice_id))["canonical_status"] == "accepted"
    # The Flow API says what became of each copy (the applied one is Ok, not a duplicate).
    _, flow, _ = await get_flow(gw, key, second["id"])
    assert flow["acknowledgement"] == {"status": "Ok"}, flow
    _, flow, _ = await get_flow(gw, key, first["id"])
    assert flow["acknowledgement"]["details"][0]["reasonCode"] == "InvoiceLCAccessDenied"
    # A third copy is judged too, and is the proven message's duplicate: nothing more moves.
    third = await gw.receive(key, message)
    _, flow, _ = await get_flow(gw, key, third["id"])
    assert flow["acknowledgement"]["details"][0]["reasonCode"] == "AlreadyExistingFlow"
    rows = [
        r
        for r in (await gw.doc(key, third["id"]))["cdar_statuses"]
        if r["document_id"] == third["id"]
    ]
    assert [(r["code"], r["state"]) for r in rows] == [("205", "duplicate")]
    assert (await gw.doc(key, invoice_id))["canonical_status"] == "accepted"
