"""Every Invoice Response of ../shared/corpus/peppol-invoice-response applied to a matching
sales invoice: real HTTP, real SQLite, the real validator, the real outbound queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.documents import identify, parse_xml

# file -> (status, reason codes, action codes, something the details must contain)
EXPECTED: dict[str, tuple[str, list[str], list[str], dict[str, Any]]] = {
    "InvoiceResponse_Example.xml": (
        "rejected",
        [],
        ["NOA"],
        {"notes": ["text"], "effective_date": "2018-09-24"},
    ),
    "T111-uc001-Invoice in process.xml": ("in_process", [], [], {}),
    "T111-uc002a-Additional reference data.xml": (
        "in_process",
        [],
        ["NOA"],
        {"effective_date": "2017-12-01"},
    ),
    "T111-uc002b-In process but postponed.xml": (
        "in_process",
        [],
        [],
        {"effective_date": "2017-12-15"},
    ),
    "T111-uc003-Invoice is accepted.xml": ("accepted", [], [], {}),
    "T111-uc004a-Invoice is rejected.xml": ("rejected", ["REF"], [], {}),
    "T111-uc004b-Rejected requesting reissue.xml": ("rejected", ["REF"], ["NIN"], {}),
    "T111-uc004c-Rejected requesting replacement.xml": ("rejected", ["REF"], ["CNF", "NIN"], {}),
    "T111-uc005-Invoice is conditionally accepted.xml": ("conditionally_accepted", ["PAY"], [], {}),
    "T111-uc006a-Under query missing information.xml": ("under_query", ["REF"], ["PIN"], {}),
    "T111-uc006b-Missing PO.xml": ("under_query", ["REF"], ["PIN"], {}),
    "T111-uc006c-Wrong detail partial credit.xml": ("under_query", ["DEL"], ["CNP"], {}),
    "T111-uc007-Payment has been initiated.xml": ("paid", [], [], {"effective_date": "2017-12-30"}),
    "T111-uc008-Invoice is accepted by third party.xml": ("accepted", [], [], {}),
}
TEXTS = {
    "REF": "References incorrect",
    "PAY": "Payment terms incorrect",
    "DEL": "Delivery issues",
    "NOA": "No action required",
    "NIN": "Issue new invoice",
    "CNF": "Credit fully",
    "PIN": "Provide information",
    "CNP": "Credit partially",
}


def test_every_corpus_file_has_an_expectation(imr_files: list[Path]) -> None:
    assert sorted(p.name for p in imr_files) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_corpus_response_applied(
    name: str, gw_factory: Any, imr_files: list[Path], make_invoice: Any
) -> None:
    path = next(p for p in imr_files if p.name == name)
    raw = path.read_bytes()
    info = identify(parse_xml(raw))
    ref = info.responses[0]
    gw = await gw_factory()
    seller = await gw.key("seller-co")
    # The sales invoice the response answers: its number and parties as the response names them.
    invoice = make_invoice(
        gw.base_invoice,
        number=ref["document_id"],
        seller=info.receiver.endpoint,
        buyer=info.sender.endpoint,
        issue_date=ref["issue_date"],
    )
    invoice_id = await gw.send_invoice(seller, invoice)

    stored = await gw.hand_in_response(seller, raw)
    assert stored["validation"]["scenario"] == "peppol-invoice-response-3"
    assert stored["status"] == "received"

    status, reasons, actions, extra = EXPECTED[name]
    body = await gw.doc(seller, invoice_id)
    assert body["status"] == status
    [resp] = body["invoice_responses"]
    assert resp["state"] == "applied" and resp["direction"] == "received"
    assert resp["response_code"] == ref["response_code"]
    assert resp["document_id"] == stored["id"]
    assert [r["code"] for r in resp["reason_codes"]] == reasons
    assert [a["code"] for a in resp["action_codes"]] == actions
    for entry in resp["reason_codes"] + resp["action_codes"]:
        assert entry["name"] == TEXTS[entry["code"]]
    for key, value in extra.items():
        assert resp[key] == value
    assert resp["responding_party"]["endpoint"] == info.sender.endpoint
    last = body["history"][-1]
    assert (last["from"], last["to"], last["source"]) == ("delivered", status, "invoice-response")
    for code in reasons + actions:
        assert f"{code} ({TEXTS[code]})" in last["reason"]
    if name.startswith("T111-uc008"):
        assert resp["recipient_party"]["name"] == "Buyer A"
    # The response document itself shows what became of it.
    own = await gw.doc(seller, stored["id"])
    assert own["invoice_response"]["invoice_id"] == invoice_id
