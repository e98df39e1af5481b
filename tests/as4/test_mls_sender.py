"""An MLS moves our outbound document only when it comes from the AP the document went to."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gateway.as4.mls import MlsStatus
from gateway.as4.mls_flow import MlsConsumer
from gateway.as4.models import As4Outbound
from gateway.as4.receiver import InboundMeta
from gateway.as4.sbdh import Sbdh
from gateway.config import load_settings
from gateway.observability import Metrics
from gateway.store import Database, repo, upgrade
from tests.factories import make_document


def _meta(from_party: str) -> InboundMeta:
    now = dt.datetime.now(dt.UTC)
    header = Sbdh("0242:000002", "0242:000001", "mls", "mls-process", "mls-inst-1", "BE")
    return InboundMeta(
        "msg-1", "conv-1", from_party, "POP000001", "svc", "act", now, now, header, "CN=x", "ab"
    )


async def test_mls_from_another_access_point_changes_nothing(tmp_path: Path) -> None:
    db = Database.from_settings(load_settings(env={}, overrides={"data_dir": str(tmp_path)}))
    await upgrade(db.engine)
    try:
        async with db.write() as s:
            await repo.ensure_tenant(s, "acme")
            doc = make_document(
                b"<Invoice/>", direction="outbound", channel="api", status="delivered"
            )
            s.add(doc)
            await s.flush()
            s.add(
                As4Outbound(
                    document_id=doc.id,
                    message_id="m-out-1",
                    instance_id="inst-1",
                    sbd=b"",
                    receiver_party="POP000002",
                )
            )
        consumer = MlsConsumer(db, "POP000001", validator=lambda: None)
        consumer.observer = metrics = Metrics()
        status = MlsStatus("AP", "inst-1", "0242:000002", "0242:000001")

        assert await consumer._apply(status, _meta("POP000099")) == doc.id
        async with db.read() as s:
            stored = await repo.get_document(s, doc.id, None)
            last = (await repo.history(s, doc.id))[-1]
        assert stored.status == "delivered"
        assert (last.to_status, last.source, last.actor) == ("delivered", "mls", "ap:POP000099")
        assert "delivered to POP000002" in (last.reason or "")

        assert await consumer._apply(status, _meta("POP000002")) == doc.id
        async with db.read() as s:
            assert (await repo.get_document(s, doc.id, None)).status == "delivered_to_recipient"
        counted = {"direction": "received", "code": "AP"}
        assert metrics.value("gateway_mls_total", outcome="wrong-ap", **counted) == 1
        assert metrics.value("gateway_mls_total", outcome="applied", **counted) == 1
    finally:
        await db.dispose()
