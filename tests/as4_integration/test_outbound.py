"""The ``as4`` transport of the outbound queue against a receiving AP built on PyPI ``as4``:
static route with the receiver's certificate, receipt verified, stable MessageId and SBD bytes
across a forced retry, NOT_SERVICED fails the item for good."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.as4 import unwrap_sbdh
from gateway.as4.models import As4Outbound, PeppolReportRow
from gateway.outbound import OutboundAttempt, OutboundItem
from tests.as4_integration.as4int_support import BUYER, Node, PeerAp, StartNode, send
from tests.waiting import until


async def item_state(node: Node, doc_id: str) -> str:
    async with node.db.read() as s:
        return str(
            await s.scalar(select(OutboundItem.state).where(OutboundItem.document_id == doc_id))
        )


def route(url: str, pem_dir: Path) -> list[dict[str, str]]:
    return [
        {
            "participant": "0002:*",
            "url": url,
            "transport": "as4",
            "certificate": str(pem_dir / "peer.crt"),
            "party_id": "POP000002",
        }
    ]


async def test_delivered_to_pypi_as4_with_stable_identity_across_retry(
    start_node: StartNode, peer_ap: PeerAp, pem_dir: Path, invoice: bytes
):
    node = await start_node("ours", "POP000001", routes=route(peer_ap.url, pem_dir))
    key = await node.key("seller", "submit", "read")
    peer_ap.mode = "down"
    doc_id = await send(node, key, invoice)

    async def first_attempt_failed() -> bool:
        async with node.db.read() as s:
            return bool(
                await s.scalar(
                    select(OutboundAttempt.seq).where(
                        OutboundAttempt.document_id == doc_id,
                        OutboundAttempt.outcome == "transient",
                    )
                )
            )

    await until(first_attempt_failed, 20)
    peer_ap.mode = "ok"

    async def delivered() -> bool:
        return await item_state(node, doc_id) == "delivered"

    await until(delivered, 20)
    (doc,) = await node.documents("outbound")
    assert doc.status == "delivered"
    assert len(peer_ap.attempts) >= 2 and len(peer_ap.received) == 1
    first_id, first_sbd = peer_ap.attempts[0]
    last_id, last_sbd = peer_ap.received[0]
    assert first_id == last_id  # same ebMS MessageId on the retry
    assert first_sbd == last_sbd  # the exact same SBD bytes (same InstanceIdentifier)
    header, _ = unwrap_sbdh(last_sbd)
    assert header.receiver == BUYER.lower() and header.country_c1 == "GB"
    assert header.mls_to == "0242:000001" and header.mls_type == "ALWAYS_SEND"
    async with node.db.read() as s:
        item = await s.get(OutboundItem, doc_id)
        row = await s.get(As4Outbound, doc_id)
        report = (await s.execute(PeppolReportRow.__table__.select())).mappings().one()
        stored_sbd, receipt = (
            await s.execute(
                select(As4Outbound.sbd, As4Outbound.receipt).where(
                    As4Outbound.document_id == doc_id
                )
            )
        ).one()
    assert item is not None and row is not None
    assert row.message_id == item.message_id == last_id
    assert row.instance_id == header.instance_id and stored_sbd == last_sbd
    assert receipt and b"Receipt" in receipt and row.receiver_party == "POP000002"
    assert report["direction"] == "outbound" and report["receiver_ap"] == "POP000002"
    assert (report["country_c1"], report["country_c4"]) == ("GB", "SE")


async def test_not_serviced_fails_the_item_for_good(
    start_node: StartNode, peer_ap: PeerAp, pem_dir: Path, invoice: bytes
):
    peer_ap.served = set()
    node = await start_node("ours", "POP000001", routes=route(peer_ap.url, pem_dir))
    key = await node.key("seller", "submit", "read")
    doc_id = await send(node, key, invoice)

    async def failed() -> bool:
        return await item_state(node, doc_id) == "failed"

    await until(failed, 20)
    async with node.db.read() as s:
        item = await s.get(OutboundItem, doc_id)
    assert item is not None and item.last_error_code == "as4-not-serviced"
    assert item.total_attempts == 1  # permanent: no pointless retries
    assert await node.count(PeppolReportRow) == 0


async def test_untrusted_receiver_certificate_is_a_permanent_failure(
    start_node: StartNode, peer_ap: PeerAp, pem_dir: Path, invoice: bytes
):
    routes = route(peer_ap.url, pem_dir)
    routes[0]["certificate"] = str(pem_dir / "rogue.crt")
    node = await start_node("ours", "POP000001", routes=routes)
    doc_id = await send(node, await node.key("seller", "submit", "read"), invoice)

    async def failed() -> bool:
        return await item_state(node, doc_id) == "failed"

    await until(failed, 20)
    assert peer_ap.attempts == []  # never sent to an endpoint we cannot trust
