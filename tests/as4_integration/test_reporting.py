"""A Peppol report goes to OpenPeppol's reporting receiver through the outbound queue over
AS4, with the reporting document type and process, sender ``0242:<our seat>``; the admin API
lists it with its validation and delivery."""

from __future__ import annotations

import asyncio
from pathlib import Path

from as4int_support import PeerAp, StartNode
from lxml import etree

from gateway.as4 import unwrap_sbdh
from gateway.reporting import REPORTING_RECEIVER
from gateway.reporting.web import REPORTING


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
    key = await node.key("ops", "admin")  # admin implies operator (until the operator scope lands)
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
