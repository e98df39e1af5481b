"""MLS between two whole gateways over AS4 on loopback.

A (POP000001) sends an invoice to B (POP000002) with MLS_TO = A's SPIS id and ALWAYS_SEND;
B stores it through its intake and answers with an MLS through its own outbound queue and AS4
transport; A consumes the MLS and moves its document to delivered_to_recipient, or, for an
invoice B's validation rejects, to rejected_by_recipient with the issue lines in the history.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.as4 import parse_mls
from gateway.as4.models import PeppolReportRow
from gateway.inbound import Submission, document_fields
from gateway.outbound import OUTBOUND, OutboundItem
from gateway.store import Document
from tests.as4_integration.as4int_support import BUYER, Node, StartNode, free_port, send
from tests.waiting import until


@pytest.fixture
async def pair(start_node: StartNode, pem_dir: Path) -> tuple[Node, Node]:
    port_a, port_b = free_port(), free_port()
    a = await start_node(
        "ours",
        "POP000001",
        port=port_a,
        routes=[
            {
                "participant": "0002:*",
                "url": f"http://127.0.0.1:{port_b}/as4",
                "transport": "as4",
                "certificate": str(pem_dir / "peer.crt"),
            },
        ],
    )
    b = await start_node(
        "peer",
        "POP000002",
        port=port_b,
        routes=[
            {
                "participant": "0242:*",
                "url": f"http://127.0.0.1:{port_a}/as4",
                "transport": "as4",
                "certificate": str(pem_dir / "ours.crt"),
            },
        ],
    )
    await b.serve("buyer", BUYER)
    return a, b


async def status_of(node: Node, doc_id: str) -> str:
    async with node.db.read() as s:
        return str(await s.scalar(select(Document.status).where(Document.id == doc_id)))


async def test_mls_ap_moves_the_document_to_delivered_to_recipient(
    pair: tuple[Node, Node], invoice: bytes
):
    a, b = pair
    doc_id = await send(a, await a.key("seller", "submit", "read"), invoice)

    async def settled() -> str | None:
        status = await status_of(a, doc_id)
        return status if status.endswith("_recipient") else None

    assert await until(settled, 20) == "delivered_to_recipient"
    (received,) = await b.documents("inbound")
    assert (received.channel, received.tenant, received.status) == ("as4", "buyer", "received")
    (mls_doc,) = await b.documents("outbound")  # B's MLS went out through B's queue
    assert mls_doc.receiver_endpoint == "0242:000001"

    async def mls_delivered() -> bool:  # B records its receipt on its next queue turn
        return await status_of(b, mls_doc.id) == "delivered"

    await until(mls_delivered, 20)
    async with b.db.read() as s:
        raw = await s.scalar(select(Document.raw).where(Document.id == mls_doc.id))
    mls = parse_mls(raw)
    assert mls.response_code == "AP" and mls.sender == "0242:000002"
    history = [(h.from_status, h.to_status, h.source) for h in await a.history(doc_id)]
    assert history[-1] == ("delivered", "delivered_to_recipient", "mls")
    (doc,) = await a.documents("outbound")
    assert doc.meta["mls"]["response_code"] == "AP"

    # Reporting: A has its invoice (out) and the MLS (in); B the invoice (in) and the MLS (out).
    async def kinds(node: Node) -> list[tuple[str, str]]:
        async with node.db.read() as s:
            return sorted((r.direction, r.kind) for r in await s.scalars(select(PeppolReportRow)))

    async def both_reported() -> bool:  # rows are written with the receipts, a moment later
        return len(await kinds(a)) == 2 and len(await kinds(b)) == 2

    await until(both_reported, 20)
    assert await kinds(a) == [("inbound", "mls"), ("outbound", "business")]
    assert await kinds(b) == [("inbound", "business"), ("outbound", "mls")]

    # Service levels: B sent its MLS within 20 minutes, A received it within 25.
    async def levels(node: Node) -> dict[str, Any]:
        key = await node.operator_key()
        async with node.http.get(
            node.url + "/v1/admin/mls/service-levels?days=2",
            headers={"Authorization": f"Bearer {key}"},
        ) as resp:
            assert resp.status == 200
            return await resp.json()

    at_b, at_a = await levels(b), await levels(a)
    today = datetime.now(UTC).date().isoformat()
    assert [(d["day"], d["messages"], d["within"], d["share"]) for d in at_b["sent"]] == [
        (today, 1, 1, 1.0)
    ]
    assert at_b["waiting_to_send"] == [] and at_b["received"] == []
    assert [(d["messages"], d["within"], d["meets_target"]) for d in at_a["received"]] == [
        (1, 1, True)
    ]
    assert at_a["waiting_to_receive"] == [] and at_a["sent"] == []

    # The same figures as Prometheus gauges on /metrics (from a snapshot, not per scrape).
    at_b, at_a = await mls_gauges(b), await mls_gauges(a)
    assert at_b[("gateway_mls_messages", "send")] == at_b[("gateway_mls_within", "send")] == 1
    assert at_b[("gateway_mls_share", "send")] == 1.0
    assert at_b[("gateway_mls_waiting", "send")] == 0
    assert at_b[("gateway_mls_messages", "receive")] == 0
    assert ("gateway_mls_share", "receive") not in at_b  # no messages: no share
    assert at_a[("gateway_mls_messages", "receive")] == at_a[("gateway_mls_within", "receive")]
    assert at_a[("gateway_mls_within", "receive")] == 1
    assert at_a[("gateway_mls_limit_seconds", "receive")] == 25 * 60
    assert at_a[("gateway_mls_target_share", "")] == 0.995

    # MLS outcomes on /metrics: B queued an AP, A applied it.
    async def scraped(node: Node) -> str:
        async with node.http.get(node.url + "/metrics") as resp:
            return await resp.text()

    sent = 'gateway_mls_total{code="AP",direction="sent",outcome="queued"} 1.0'
    applied = 'gateway_mls_total{code="AP",direction="received",outcome="applied"} 1.0'
    assert sent in await scraped(b) and applied in await scraped(a)


async def mls_gauges(node: Node) -> dict[tuple[str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    async with node.http.get(node.url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (sample.name, sample.labels.get("direction", "")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("gateway_mls_")
        for sample in family.samples
    }


async def queue_unchecked(node: Node, validator: Any, raw: bytes) -> str:
    """Queue a document A's own validation would refuse (as if A's rules were older than B's)."""
    report = await validator.validate(raw)
    assert not report.accepted
    fields = document_fields(
        Submission(raw, "api", "seller", direction="outbound"), report, "seller"
    )
    doctype = (
        "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
    )
    service = node.app[OUTBOUND]
    item, _ = await service.queue.enqueue(
        Document(**fields),
        receiver=BUYER.lower(),
        sender="0088:9482348239847239874",
        document_type=doctype,
        process="cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
    )
    service.worker.notify()
    return item.document_id


async def test_invalid_invoice_gets_mls_re_and_rejected_by_recipient(
    pair: tuple[Node, Node], invoice: bytes, validator: Any
):
    a, b = pair
    bad = re.sub(
        rb"<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
        b"<cbc:InvoiceTypeCode>999</cbc:InvoiceTypeCode>",
        invoice,
    )
    doc_id = await queue_unchecked(a, validator, bad)

    async def settled() -> str | None:
        status = await status_of(a, doc_id)
        return status if status.endswith("_recipient") else None

    assert await until(settled, 20) == "rejected_by_recipient"
    (received,) = await b.documents("inbound")
    assert received.status == "invalid" and received.channel == "as4"
    last = (await a.history(doc_id))[-1]
    assert last.to_status == "rejected_by_recipient" and last.source == "mls"
    assert "MLS RE from 0242:000002" in (last.reason or "") and "[BV]" in (last.reason or "")
    (doc,) = await a.documents("outbound")
    issues = doc.meta["mls"]["issues"]
    assert issues and all(i["reason"] in ("BV", "SV") for i in issues)
    async with a.db.read() as s:
        assert (await s.get(OutboundItem, doc_id)).state == "delivered"  # transport did its job


class FailingOnce:
    """B's outbound service, unavailable for the first MLS (as if B died before queueing it)."""

    def __init__(self, real: Any) -> None:
        self.real, self.failed = real, 0

    async def submit(self, *args: Any, **kw: Any) -> Any:
        if not self.failed:
            self.failed += 1
            raise ConnectionError("database went away")
        return await self.real.submit(*args, **kw)


async def test_an_owed_mls_survives_and_is_sent_once_by_the_outbox_sweep(
    pair: tuple[Node, Node], invoice: bytes
):
    from gateway.as4.models import As4MlsOutbox
    from gateway.channels import AS4

    a, b = pair
    channel = b.app[AS4]
    channel.responder.outbound = FailingOnce(channel.responder.outbound)
    doc_id = await send(a, await a.key("seller", "submit", "read"), invoice)

    async def outbox_states() -> list[str]:
        async with b.db.read() as s:
            return [r.state for r in await s.scalars(select(As4MlsOutbox))]

    async def owed() -> bool:
        return channel.responder.outbound.failed == 1 and await outbox_states() == ["pending"]

    await until(owed, 20)

    async def a_delivered() -> bool:  # A records B's receipt on its next queue turn
        return await status_of(a, doc_id) == "delivered"

    await until(a_delivered, 20)
    assert await b.documents("outbound") == []  # no MLS queued at B
    # Owed but not queued: counted as waiting by the service levels and on /metrics.
    gauges = await mls_gauges(b)
    assert gauges[("gateway_mls_messages", "send")] == gauges[("gateway_mls_waiting", "send")] == 1
    assert gauges[("gateway_mls_within", "send")] == 0

    # The periodic sweep (here called directly) finds the owed MLS and queues it, once the
    # failed payment's backoff (2 s) has run out.
    async def swept() -> int:
        return await channel.outbox.sweep(older_than=0)

    assert await until(swept, 20) == 1
    assert await channel.outbox.sweep(older_than=0) == 0  # settled: nothing twice
    assert await outbox_states() == ["queued"]

    async def settled() -> str | None:
        status = await status_of(a, doc_id)
        return status if status.endswith("_recipient") else None

    assert await until(settled, 20) == "delivered_to_recipient"
    assert len(await b.documents("outbound")) == 1
