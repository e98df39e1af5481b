"""The folder channel inside a real gateway app: inbound and outbound folders, reports beside."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import Document
from gateway.web import DB
from tests.waiting import until

XR = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"


@pytest.fixture
def invoice(corpus_dir: Path) -> bytes:
    return (corpus_dir / XR).read_bytes()


def _report(path: Path) -> dict[str, Any]:
    return dict(json.loads((path.parent / (path.name + ".report.json")).read_text()))


async def test_inbound_and_outbound_folders(
    tmp_path: Path, validator: Any, aiohttp_server: Any, invoice: bytes
) -> None:
    inbox, outbox = tmp_path / "acme-in", tmp_path / "acme-out"
    fast = {"stable_seconds": 0.3, "poll_interval": 0.05}
    settings = load_settings(
        env={},
        overrides={
            "data_dir": str(tmp_path / "data"),
            "folders": [
                {"tenant": "acme", "path": str(inbox), **fast},
                {"tenant": "acme", "path": str(outbox), "direction": "outbound", **fast},
            ],
            "routes": [{"participant": "*", "url": "http://127.0.0.1:9/", "transport": "http"}],
            "outbound": {"retry_initial": 30.0},
        },
    )
    app = create_app(settings, validator=validator)
    await aiohttp_server(app, host="127.0.0.1", port=0)

    # Written and renamed: complete at once. Written slowly in place: only once it is stable.
    (inbox / ".good.xml.tmp").write_bytes(invoice)
    (inbox / ".good.xml.tmp").rename(inbox / "good.xml")
    bad = invoice.replace(b"<cbc:BuyerReference>", b"<cbc:Note>").replace(
        b"</cbc:BuyerReference>", b"</cbc:Note>"
    )
    slow = inbox / "slow.xml"
    with slow.open("wb") as f:
        for i in range(0, len(bad), len(bad) // 6 + 1):
            f.write(bad[i : i + len(bad) // 6 + 1])
            f.flush()
            await asyncio.sleep(0.1)  # shorter than stable_seconds: never read half-written
    (outbox / "send.xml").write_bytes(invoice.replace(b"123456XX", b"OUT-1"))

    await until(lambda: (inbox / "processed" / "good.xml").exists(), 90)
    await until(lambda: (inbox / "failed" / "slow.xml").exists(), 90)
    await until(lambda: (outbox / "processed" / "send.xml").exists(), 90)

    good = _report(inbox / "processed" / "good.xml")
    assert good["status"] == "received" and good["validation"]["accepted"]
    failed = _report(inbox / "failed" / "slow.xml")
    assert failed["status"] == "invalid"  # invalid because BR-DE-15, not because it was cut
    assert "BR-DE-15" in {f["rule"] for f in failed["validation"]["findings"]}
    sent = _report(outbox / "processed" / "send.xml")
    assert sent["status"] == "queued" and sent["receiver"] == "em:buyer@info.de"

    async with app[DB].read() as s:
        rows = (
            await s.execute(select(Document.id, Document.raw, Document.direction, Document.channel))
        ).all()
    docs = {r.id: r for r in rows}
    assert docs[good["document_id"]].raw == invoice
    assert docs[failed["document_id"]].raw == bad  # the whole file, not a prefix
    assert docs[sent["document_id"]].direction == "outbound"
    assert {d.channel for d in docs.values()} == {"folder"}
    assert sorted(p.name for p in inbox.iterdir()) == [".processing", "failed", "processed"]
