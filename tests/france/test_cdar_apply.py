"""Received CDAR lifecycle messages move the sales invoice they concern (issue 20, item 2).

The official examples of use case 1 (``corpus/france-cdar``, invoice F202500003 of seller SIREN
100000009 to buyer 200000008) arrive over AS4 for a sales invoice built from the corpus with
those facts (tests/french_invoices.py); each moves it as ``gateway/france/codes.toml`` says, with
the code, emitter and amounts in the history. Messages from the wrong party, over a channel that
proves nothing, or out of order change nothing and are listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.as4 import As4Outbound
from gateway.inbound import Submission
from gateway.web import INTAKE
from tests.french_invoices import french_invoice

SELLER, BUYER = "100000009", "200000008"
NUMBER = "F202500003"
UC1 = "france-cdar/UC1_F202500003_0{}.xml"


def _as4(sender: str = BUYER) -> dict[str, Any]:
    return {
        "as4": {
            "from_party": "POP000777",
            "signer_subject": "CN=POP000777,O=PA-R Acheteur,C=FR",
            "signer_fingerprint": "cd" * 32,
            "sbdh": {"sender": f"0225:{sender}", "receiver": f"0225:{SELLER}"},
        }
    }


async def _setup(gw_factory: Any, corpus: Path, number: str = NUMBER) -> tuple[Any, str, str]:
    gw = await gw_factory()
    key = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER}")
    raw = french_invoice(
        corpus, number=number, issue_date="2025-07-01", seller_siren=SELLER, buyer_siren=BUYER
    )
    return gw, key, await gw.send_invoice(key, raw)


async def _arrive(gw: Any, raw: bytes, meta: dict[str, Any] | None = None, channel: str = "as4"):
    return await gw.app[INTAKE].submit(
        Submission(raw, channel, "vendeur", metadata=meta if meta is not None else _as4())
    )


def _file(corpus: Path, name: str) -> bytes:
    return next((corpus / "france-cdar").glob(f"{name}*.xml")).read_bytes()


async def test_use_case_1_moves_the_sales_invoice_code_by_code(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw, key, invoice_id = await _setup(gw_factory, corpus_dir)
    status, _ = await gw.call(
        "PUT", key, "/v1/admin/settings", json={"status_profile": {"outbound": "france-cdar"}}
    )
    steps = [
        ("UC1_F202500003_02-CDV-202", "delivered_to_recipient", "202 Reçue"),
        ("UC1_F202500003_03-CDV-203", "acknowledged", "203 Mise à disposition"),
        ("UC1_F202500003_04-CDV-204", "in_process", "204 Prise en charge"),
        ("UC1_F202500003_05-CDV-205", "accepted", "205 Approuvée"),
        ("UC1_F202500003_06-CDV-211", "paid", "211 Paiement transmis"),
    ]
    for name, canonical, french in steps:
        stored = await _arrive(gw, _file(corpus_dir, name))
        assert stored.report.accepted and stored.report.scenario == "fr-cdar-lifecycle"
        body = await gw.doc(key, invoice_id)
        assert body["canonical_status"] == canonical, (name, body["canonical_status"])
        if status == 200:
            assert body["status"] == french
        last = body["history"][-1]
        assert last["source"] == "cdar" and last["to"] in (canonical, french)
        assert last["actor"].startswith(f"cdar:0225:{BUYER} via as4 ap:POP000777")
        assert french in last["reason"]
    # The stored facts: the 211 carries the amount paid; every message is listed as applied.
    assert "12000 EUR" in body["history"][-1]["reason"]
    code, listed = await gw.call("GET", key, "/v1/france/cdar?state=applied")
    assert code == 200 and [i["code"] for i in listed["items"]] == [
        "202",
        "203",
        "204",
        "205",
        "211",
    ]
    assert {i["invoice_id"] for i in listed["items"]} == {invoice_id}
    # Repeated: the same bytes, or the same message in other bytes (same emitter, number and
    # date: the business key), are duplicate documents, never handled; applied once.
    approve = _file(corpus_dir, "UC1_F202500003_05-CDV-205")
    spaced = approve.replace(b"<rsm:ExchangedDocument>", b"<rsm:ExchangedDocument> ")
    for copy in (approve, spaced):
        assert (await _arrive(gw, copy)).status == "duplicate"
    # (The gateway's own 200/201 about the invoice it sent are sent rows, not counted here.)
    _, everything = await gw.call("GET", key, "/v1/france/cdar?direction=received")
    assert len(everything["items"]) == 5
    # Paged, and strict about its query like every list route (names the parameter).
    _, first = await gw.call("GET", key, "/v1/france/cdar?direction=received&limit=2")
    assert len(first["items"]) == 2 and first["next_cursor"] == str(first["items"][-1]["id"])
    _, rest = await gw.call("GET", key, f"/v1/france/cdar?cursor={first['next_cursor']}")
    assert [i["id"] for i in first["items"] + rest["items"]] == [
        i["id"] for i in everything["items"]
    ]
    for query, problem, parameter in (
        ("state=bogus", "invalid-parameter", "state"),
        ("direction=up", "invalid-parameter", "direction"),
        ("limit=201", "invalid-parameter", "limit"),
        ("sate=applied", "unknown-parameter", "sate"),
    ):
        code, bad = await gw.call("GET", key, f"/v1/france/cdar?{query}")
        assert (code, bad["code"], bad["parameter"]) == (400, problem, parameter), query
    assert (await gw.doc(key, invoice_id))["canonical_status"] == "paid"


async def test_a_late_transmission_status_and_anything_after_a_final_one_change_nothing(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw, key, invoice_id = await _setup(gw_factory, corpus_dir)
    await _arrive(gw, _file(corpus_dir, "UC1_F202500003_05-CDV-205"))
    late = await _arrive(gw, _file(corpus_dir, "UC1_F202500003_02-CDV-202"))
    body = await gw.doc(key, invoice_id)
    assert body["canonical_status"] == "accepted"
    assert "conflict, status unchanged" in body["history"][-1]["reason"]
    _, conflicts = await gw.call("GET", key, "/v1/france/cdar?state=conflict")
    assert [i["document_id"] for i in conflicts["items"]] == [late.document_id]
    assert "arrived after 205 Approuvée" in conflicts["items"][0]["detail"]


async def test_a_cdar_from_the_wrong_party_or_unproven_changes_nothing(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw, key, invoice_id = await _setup(gw_factory, corpus_dir)
    approve = _file(corpus_dir, "UC1_F202500003_05-CDV-205")

    def other_id(raw: bytes, n: int) -> bytes:  # another message (MDT-4), same content
        return raw.replace(b"#380_20250701</ram:ID>", b"#380_20250701-%d</ram:ID>" % n, 1)

    # 1. AS4 from an access point that speaks for another company than the message names.
    await _arrive(gw, other_id(approve, 1), _as4(sender="300000007"))
    # 2. A message that names another company as the one approving, proven for that company:
    #    it is not the invoice's buyer.
    forged = approve.replace(
        b'<ram:GlobalID schemeID="0002">200000008</ram:GlobalID>',
        b'<ram:GlobalID schemeID="0002">300000007</ram:GlobalID>',
        1,
    )
    await _arrive(gw, other_id(forged, 2), _as4(sender="300000007"))
    # 3. Handed in over REST by the seller itself: REST proves nothing about the buyer.
    await _arrive(gw, other_id(approve, 3), {"api_key": "k1"}, channel="api")
    body = await gw.doc(key, invoice_id)
    assert body["canonical_status"] == "delivered"
    assert all(
        h["source"] != "cdar" or "status unchanged" in (h["reason"] or "") for h in body["history"]
    )
    _, refused = await gw.call("GET", key, "/v1/france/cdar?state=refused")
    _, held = await gw.call("GET", key, "/v1/france/cdar?state=held")
    assert len(refused["items"]) == 2 and len(held["items"]) == 1
    assert "not the buyer" in " ".join(i["detail"] for i in refused["items"])
    assert all(i["invoice_id"] in (invoice_id, None) for i in refused["items"] + held["items"])
    # 4. Over AS4 for the right company, but not from the access point the invoice went to.
    async with gw.db.write() as s:  # the invoice went to POP000777 over AS4
        s.add(As4Outbound(document_id=invoice_id, message_id="m1", instance_id="i1", sbd=b""))
        await s.flush()
        (await s.get(As4Outbound, invoice_id)).receiver_party = "POP000777"
    other_ap = _as4()
    other_ap["as4"]["from_party"] = "POP000666"
    await _arrive(gw, other_id(approve, 4), other_ap)
    _, refused = await gw.call("GET", key, "/v1/france/cdar?state=refused")
    assert "delivered to access point POP000777" in refused["items"][-1]["detail"]
    assert (await gw.doc(key, invoice_id))["canonical_status"] == "delivered"
    # Afterwards the real approval still applies: forgeries took no de-duplication key.
    await _arrive(gw, approve)
    assert (await gw.doc(key, invoice_id))["canonical_status"] == "accepted"


async def test_a_cdar_before_its_invoice_applies_when_the_invoice_is_sent(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw, key, _ = await _setup(gw_factory, corpus_dir, number="F-OTHER-1")
    early = await _arrive(gw, _file(corpus_dir, "UC1_F202500003_04-CDV-204"))
    _, unmatched = await gw.call("GET", key, "/v1/france/cdar?state=unmatched")
    assert [i["document_id"] for i in unmatched["items"]] == [early.document_id]
    raw = french_invoice(
        corpus_dir, number=NUMBER, issue_date="2025-07-01", seller_siren=SELLER, buyer_siren=BUYER
    )
    status, sent = await gw.call("POST", key, "/v1/outbound", xml=raw)
    assert status == 202, sent
    body = await gw.wait_status(key, sent["id"], "in_process")  # once delivered, at once
    assert body["history"][-1]["source"] == "cdar"
