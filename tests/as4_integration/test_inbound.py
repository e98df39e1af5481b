"""PyPI ``as4`` sender -> ``POST /as4`` of a whole gateway (create_app with [as4], real SQLite,
real validator): stored through the intake, receipt verified by the independent implementation,
replays, unknown recipients, AS4 + REST duplicates, reporting rows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from as4 import AS4LocalPrivateKey
from as4.peppol import (
    create_peppol_internal_party,
    parse_peppol_receipt,
)

from gateway.as4 import parse_signal
from gateway.as4.models import As4InboundInstance, As4InboundMessage, PeppolReportRow
from tests.as4_integration.as4int_support import (
    BIS_DOCTYPE,
    BIS_PROCESS,
    BUYER,
    Node,
    StartNode,
    message,
)
from tests.as4_integration.as4int_support import post_as4 as post


@pytest.fixture
async def node(start_node: StartNode) -> Node:
    node = await start_node("ours", "POP000001")
    await node.serve("acme", BUYER)
    return node


async def test_peer_message_is_stored_through_intake_and_receipt_verifies(
    node, peer_party, gateway_party, invoice, pki
):
    msg = message(peer_party, gateway_party, invoice, instance_id="inst-1")
    status, answer = await post(node, msg)
    assert status == 200, answer[:400]
    receipt = parse_peppol_receipt(answer, pki.ours.cert)  # their parser, our certificate
    assert receipt.original_message_id == msg.message_id
    (doc,) = await node.documents()
    assert (doc.channel, doc.tenant, doc.status) == ("as4", "acme", "received")
    assert doc.meta["as4"]["message_id"] == msg.message_id
    assert doc.meta["as4"]["from_party"] == "POP000002"
    assert doc.meta["as4"]["sbdh"]["instance_id"] == "inst-1"
    async with node.db.read() as s:
        row = await s.get(As4InboundMessage, msg.message_id)
        assert row is not None and row.state == "done" and row.document_id == doc.id
        report = (await s.execute(PeppolReportRow.__table__.select())).mappings().one()
    assert report["direction"] == "inbound" and report["document_id"] == doc.id
    assert (report["sender_ap"], report["receiver_ap"]) == ("POP000002", "POP000001")
    assert (report["country_c1"], report["country_c4"]) == ("GB", "SE")  # SBDH C1, buyer C4
    assert report["document_type_id"] == BIS_DOCTYPE and report["process_id"] == BIS_PROCESS


async def test_replay_gets_the_same_receipt_and_creates_nothing(
    node, peer_party, gateway_party, invoice
):
    msg = message(peer_party, gateway_party, invoice, instance_id="inst-replay")
    body, boundary = msg.get_request_data()
    headers = msg.get_http_headers(boundary)
    answers = []
    for _ in range(3):
        async with node.http.post(node.url + "/as4", data=body, headers=headers) as resp:
            assert resp.status == 200
            answers.append(await resp.read())
    assert answers[0] == answers[1] == answers[2]  # byte-identical stored receipt
    assert len(await node.documents()) == 1
    # A new MessageId carrying the same SBDH instance: fresh receipt, still no new document.
    again = message(peer_party, gateway_party, invoice, instance_id="inst-replay")
    status, answer = await post(node, again)
    assert status == 200 and parse_signal(answer)[0].ref_to_message_id == again.message_id
    assert len(await node.documents()) == 1
    assert await node.count(PeppolReportRow) == 1


async def test_unknown_recipient_is_not_serviced_and_nothing_is_stored(
    node, peer_party, gateway_party, invoice
):
    msg = message(peer_party, gateway_party, invoice, recipient="0088:1111111111111")
    status, answer = await post(node, msg)
    assert status == 200
    signal, _ = parse_signal(answer)
    assert [(e.code, e.detail) for e in signal.errors] == [("EBMS:0004", "PEPPOL:NOT_SERVICED")]
    assert await node.documents() == []
    assert await node.count(As4InboundMessage) == 0
    assert await node.count(As4InboundInstance) == 0
    assert await node.count(PeppolReportRow) == 0


async def test_same_invoice_via_rest_and_as4_is_one_original_one_duplicate(
    node, peer_party, gateway_party, invoice
):
    key = await node.key("acme", "submit", "read")
    async with node.http.post(
        node.url + "/v1/documents",
        data=invoice,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/xml"},
    ) as resp:
        assert resp.status in (200, 201, 202), await resp.text()
        rest = await resp.json()
    status, _ = await post(node, message(peer_party, gateway_party, invoice))
    assert status == 200
    docs = await node.documents()
    assert [(d.channel, d.status) for d in docs] == [("api", "received"), ("as4", "duplicate")]
    assert docs[1].duplicate_of == docs[0].id == rest["id"]


async def test_untrusted_sender_is_refused_and_nothing_is_stored(node, gateway_party, invoice, pki):
    rogue = create_peppol_internal_party(
        "POP000002", pki.rogue.cert, AS4LocalPrivateKey(pki.rogue.key)
    )
    status, answer = await post(node, message(rogue, gateway_party, invoice))
    signal, _ = parse_signal(answer)
    assert status == 200 and signal.errors[0].code == "EBMS:0101"
    assert await node.documents() == []


async def test_reporting_endpoint_is_admin_only_and_tenant_scoped(
    node, peer_party, gateway_party, invoice
):
    assert (await post(node, message(peer_party, gateway_party, invoice)))[0] == 200
    admin, reader = await node.key("acme", "admin"), await node.key("acme", "read")
    other = await node.key("globex", "admin")

    async def get(key: str, query: str = "") -> tuple[int, Any]:
        async with node.http.get(
            node.url + "/v1/admin/reporting" + query, headers={"Authorization": f"Bearer {key}"}
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    assert (await get(reader))[0] == 403
    status, body = await get(admin, "?from=2000-01-01")
    assert status == 200 and body["count"] == 1
    assert body["rows"][0]["receiver"].lower() == BUYER.lower()
    assert (await get(admin, "?to=2000-01-01"))[1]["count"] == 0
    assert (await get(other))[1]["count"] == 0
    status, summary = await get(admin, "?format=summary")
    assert summary["transactions"][0]["count"] == 1
    assert summary["end_users"][0]["receiving_end_users"] == 1
    assert (await get(admin, "?from=yesterday"))[0] == 400


async def test_reporting_cli_exports_every_tenant(
    node, peer_party, gateway_party, invoice, tmp_path, capsys
):
    import asyncio

    from gateway.cli import main
    from gateway.web import SETTINGS

    assert (await post(node, message(peer_party, gateway_party, invoice)))[0] == 200
    config = tmp_path / "gateway.toml"
    config.write_text(f'data_dir = "{node.app[SETTINGS].data_dir}"\n')
    code = await asyncio.to_thread(
        main, ["--config", str(config), "reporting", "export", "--format", "csv"]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and lines[0].startswith("direction,exchanged_at,tenant")
    assert len(lines) == 2 and lines[1].startswith("inbound,") and ",acme," in lines[1]


async def test_value_that_cannot_be_stored_is_a_permanent_ebms_error(
    node, peer_party, gateway_party, invoice
):
    """Issue 14, item 3: a 201-character cbc:ID was a 503 (the sending AP retried for days)."""
    long_id = re.sub(
        rb"<cbc:ID>[^<]*</cbc:ID>", b"<cbc:ID>" + b"X" * 201 + b"</cbc:ID>", invoice, count=1
    )
    assert long_id != invoice
    status, answer = await post(
        node, message(peer_party, gateway_party, long_id, instance_id="inst-long")
    )
    signal, _ = parse_signal(answer)
    assert status == 200, answer[:300]
    ((code, detail, severity),) = [(e.code, e.detail, e.severity) for e in signal.errors]
    assert (code, severity) == ("EBMS:0004", "failure")
    assert "invoice number (cbc:ID" in detail and "longer than 200 characters" in detail
    assert await node.documents() == []
