"""A Peppol report goes to OpenPeppol's reporting receiver through the outbound queue over
AS4, with the reporting document type and process, sender ``0242:<our seat>``; the admin API
lists it with its validation and delivery."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lxml import etree

from gateway.as4 import unwrap_sbdh
from gateway.reporting import REPORTING, REPORTING_RECEIVER
from tests.as4_integration.as4int_support import PeerAp, StartNode


def c14n(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


async def test_tsr_is_sent_over_as4_to_the_reporting_receiver(
    start_node: StartNode, peer_ap: PeerAp, pem_dir: Path
):
    peer_ap.served.add(REPORTING_RECEIVER)
    route = {
        "participant": "9925:*",
        "url": peer_ap.url,
        "transport": "as4",
        "certificate": str(pem_dir / "peer.crt"),
        "party_id": "POP000002",
    }
    node = await start_node("ours", "POP000001", routes=[route])
    tenant_admin = await node.key("acme", "admin")
    async with node.http.get(
        node.url + "/v1/admin/peppol-reports", headers={"Authorization": f"Bearer {tenant_admin}"}
    ) as resp:
        assert resp.status == 403  # AP-wide figures: not for a tenant's admin
    key = await node.operator_key()
    async with node.http.post(
        node.url + "/v1/admin/peppol-reports",
        json={"kind": "tsr", "month": "2026-01", "send": True},
        headers={"Authorization": f"Bearer {key}"},
    ) as resp:
        created = await resp.json()
        assert resp.status == 201, created
    assert created["valid"] and created["document_id"]
    for _ in range(400):
        if peer_ap.received:
            break
        await asyncio.sleep(0.05)
    assert len(peer_ap.received) == 1
    header, document = unwrap_sbdh(peer_ap.received[0][1])
    assert header.receiver == REPORTING_RECEIVER and header.sender == "0242:POP000001"
    assert header.document_type_id.startswith(
        "urn:fdc:peppol:transaction-statistics-report:1.0::TransactionStatisticsReport##"
    )
    assert header.process_id == "urn:fdc:peppol.eu:edec:bis:reporting:1.0"
    stored = await node.app[REPORTING].xml(created["id"])
    assert c14n(document) == c14n(stored)  # the report as validated (the SBD re-serialises)
    for _ in range(200):
        async with node.http.get(
            node.url + "/v1/admin/peppol-reports?month=2026-01",
            headers={"Authorization": f"Bearer {key}"},
        ) as resp:
            listed = (await resp.json())["reports"]
        if listed[0]["delivery"] == "delivered":
            break
        await asyncio.sleep(0.05)
    assert listed[0]["delivery"] == "delivered" and listed[0]["findings"] == []


async def test_receiver_sets_the_c4_country_of_received_documents(start_node: StartNode):
    import datetime as dt

    from gateway.as4.reporting import report_row

    node = await start_node("ours", "POP000001")
    rows = [
        report_row(
            direction="inbound",
            tenant=tenant,
            document_id=doc,
            message_id=f"m-{doc}",
            exchanged_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
            sender_ap="POP000002",
            receiver_ap="POP000001",
            sender="0088:1",
            receiver="0007:2",
            document_type_id="urn:x",
            process_id="urn:y",
            country_c1="NO",
            country_c4=c4,
        )
        for tenant, doc, c4 in (("acme", "d-1", ""), ("acme", "d-2", "SE"), ("other", "d-3", ""))
    ]
    async with node.db.write() as s:
        s.add_all(rows)
    key = await node.key("acme", "admin")
    auth = {"Authorization": f"Bearer {key}"}
    async with node.http.get(node.url + "/v1/admin/reporting/c4-unknown", headers=auth) as resp:
        unknown = await resp.json()
    assert [d["document_id"] for d in unknown["documents"]] == ["d-1"]  # not another tenant's
    async with node.http.put(
        node.url + "/v1/admin/reporting/c4/d-1", json={"country": "dk"}, headers=auth
    ) as resp:
        assert resp.status == 200 and (await resp.json())["country_c4"] == "DK"
    for doc, body, status in (
        ("d-3", {"country": "DK"}, 404),
        ("d-1", {"country": "Denmark"}, 400),
    ):
        async with node.http.put(
            node.url + f"/v1/admin/reporting/c4/{doc}", json=body, headers=auth
        ) as resp:
            assert resp.status == status
    async with node.http.get(node.url + "/v1/admin/reporting/c4-unknown", headers=auth) as resp:
        assert (await resp.json())["count"] == 0
