"""France's duplicate rule (issue 20, item 4): the same invoice number, year of issue and
seller SIREN is the same invoice. The new delivery is a duplicate ("213 Rejetée (DOUBLON)" in
the French profile), the original keeps its status, and an admin can still release the copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.documents import identify, parse_xml
from gateway.inbound import load_duplicate_rules
from tests.french_invoices import french_invoice


async def test_same_number_year_and_siren_is_a_doublon_whatever_the_amount(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key = await gw.key("acheteur")
    status, _ = await gw.call(
        "PUT", key, "/v1/admin/settings", json={"status_profile": {"inbound": "france-cdar"}}
    )
    assert status == 200
    first = await gw.receive(
        key, french_invoice(corpus_dir, number="F-77", issue_date="2025-03-02")
    )
    assert first["status"] == "received"
    status, _ = await gw.call(
        "POST", key, f"/v1/documents/{first['id']}/status", json={"status": "205 Approuvée"}
    )
    assert status == 200
    # Later that year, another amount (10 % VAT) and date: still the same French invoice.
    copy = french_invoice(corpus_dir, number="F-77", issue_date="2025-11-20", rate="10")
    second = await gw.receive(key, copy)
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["id"]
    shown = await gw.doc(key, second["id"])
    assert shown["status"] == "213 Rejetée (DOUBLON)"
    original = await gw.doc(key, first["id"])
    assert original["canonical_status"] == "approved" and original["status"] == "205 Approuvée"
    # Another year, or another seller: a new invoice.
    next_year = french_invoice(corpus_dir, number="F-77", issue_date="2026-01-05")
    other_seller = french_invoice(
        corpus_dir, number="F-77", issue_date="2025-03-02", seller_siren="356000000"
    )
    for raw in (next_year, other_seller):
        assert (await gw.receive(key, raw))["status"] == "received"
    # An admin can still mark a wrongly flagged copy as original.
    status, body = await gw.call(
        "POST",
        key,
        f"/v1/admin/documents/{second['id']}/mark-original",
        json={"reason": "another invoice that reuses the number"},
    )
    assert status == 200, body
    assert (await gw.doc(key, second["id"]))["canonical_status"] == "received"


def test_the_rule_is_chosen_by_scenario_and_others_keep_the_default_key(corpus_dir: Path) -> None:
    rules = load_duplicate_rules()
    info = identify(parse_xml(french_invoice(corpus_dir, "cii", number="F-9"))).to_dict()
    assert rules.key_for(info, "fr-ctc-cii") == "fr-doublon|Invoice|732829320|F-9|2025"
    assert rules.key_for(info, "en16931-cii") == info["business_key"]
    assert rules.rule_for("peppol-bis3-invoice") is None
