"""After real actions on a real gateway, /metrics counts outbound attempts and Invoice Response
outcomes, and the log has one JSON line per status change and per response outcome (without
keys or document content)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.live_gateway import BUYER, SELLER, factory, invoice_response, sales_invoice


async def _counters(gw: Any, name: str) -> dict[frozenset[tuple[str, str]], float]:
    async with gw.http.get(gw.url + "/metrics") as resp:
        text = await resp.text()
    return {
        frozenset(s.labels.items()): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def _moved(after: dict, before: dict, **labels: str) -> float:
    key = frozenset(labels.items())
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_counters_move_and_lines_are_logged(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path, session_log: Any
) -> None:
    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        gw = await make()
        key = await gw.key("acme")
        await gw.participant("acme", SELLER)
        start = session_log.offset()
        sent_before = await _counters(gw, "gateway_outbound_attempts_total")
        imr_before = await _counters(gw, "gateway_invoice_responses_total")

        raw = sales_invoice(gw.base_invoice, number="OBS-1", seller=SELLER, buyer=BUYER)
        sales_id = await gw.send_invoice(key, raw)
        await gw.hand_in_response(key, invoice_response("AP", "IMR-OBS-1", "OBS-1"))
        await gw.hand_in_response(key, invoice_response("AP", "IMR-OBS-2", "NO-SUCH-INVOICE"))
        assert (await gw.doc(key, sales_id))["status"] == "accepted"

        sent = await _counters(gw, "gateway_outbound_attempts_total")
        assert _moved(sent, sent_before, transport="http", result="delivered") == 1
        imr = await _counters(gw, "gateway_invoice_responses_total")
        received = {"direction": "received", "code": "AP"}
        assert _moved(imr, imr_before, outcome="held", **received) == 2  # REST proves no buyer
        assert _moved(imr, imr_before, outcome="applied", **received) == 1  # vouched, matched
        assert _moved(imr, imr_before, outcome="unmatched", **received) == 1

        lines = session_log.lines_since(start)
    records = [json.loads(line) for line in lines if line.startswith("{")]
    changes = [r for r in records if r["msg"] == "status changed" and r["document_id"] == sales_id]
    assert [(c["from"], c["to"]) for c in changes][-1] == ("delivered", "accepted")
    assert {"sending", "delivered"} <= {c["to"] for c in changes}  # queued is its first status
    last = changes[-1]
    assert last["tenant"] == "acme" and last["direction"] == "outbound"
    assert last["source"] and last["actor"]
    outcomes = {r["response_id"]: r for r in records if r["msg"] == "invoice response outcome"}
    assert outcomes["IMR-OBS-1"]["outcome"] == "applied"
    assert outcomes["IMR-OBS-1"]["invoice_id"] == sales_id
    assert outcomes["IMR-OBS-2"]["outcome"] == "unmatched"
    mine = [line for line in lines if '"status changed"' in line or "response outcome" in line]
    assert not [line for line in mine if "<cbc:" in line or "<?xml" in line or key in line]
