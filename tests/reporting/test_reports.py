"""TSR and EUSR for a month of known traffic: counts asserted, every report valid against the
pinned schema + Schematron, zero months, our validation of the official examples, the schedule
once per month across processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from lxml import etree

from gateway.as4 import export_rows
from gateway.reporting import (
    REPORTING_RECEIVER,
    REPORTING_TENANT,
    TSR_DOCUMENT_TYPE,
    ReportingService,
    build_tsr,
    month_bounds,
)
from tests.reporting.reporting_support import BILLING, CREDIT, INVOICE, inbound


def ns(xml: bytes) -> tuple[etree._Element, dict[str, str]]:
    root = etree.fromstring(xml)
    return root, {"r": root.nsmap[None]}


def subtotals(xml: bytes, kind: str) -> dict[tuple[str, ...], tuple[int, int]]:
    root, n = ns(xml)
    out = {}
    for sub in root.iterfind(f"r:Subtotal[@type='{kind}']", n):
        key = tuple(k.text for k in sub.iterfind("r:Key", n))
        out[key] = (
            int(sub.findtext("r:Incoming", namespaces=n)),
            int(sub.findtext("r:Outgoing", namespaces=n)),
        )
    return out


def subsets(xml: bytes, kind: str) -> dict[tuple[str, ...], tuple[int, int, int]]:
    root, n = ns(xml)
    out = {}
    for sub in root.iterfind(f"r:Subset[@type='{kind}']", n):
        key = tuple(k.text for k in sub.iterfind("r:Key", n))
        out[key] = tuple(
            int(sub.findtext(f"r:{t}", namespaces=n))
            for t in ("SendingEndUsers", "ReceivingEndUsers", "SendingOrReceivingEndUsers")
        )
    return out


def test_month_bounds():
    assert month_bounds("2026-02") == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert month_bounds("2024-02")[1] == dt.date(2024, 2, 29)
    assert month_bounds("2025-12") == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    with pytest.raises(ValueError):
        month_bounds("2026-13")


async def test_tsr_counts_for_a_month_of_traffic(traffic, validate):
    service = ReportingService(traffic, "POP000001", validate)
    record = await service.generate("tsr", "2026-01")
    assert record.valid, json.loads(record.validation)["findings"]
    root, n = ns(record.xml)
    assert root.findtext("r:Header/r:ReportPeriod/r:StartDate", namespaces=n) == "2026-01-01"
    assert root.findtext("r:Header/r:ReportPeriod/r:EndDate", namespaces=n) == "2026-01-31"
    assert root.findtext("r:Header/r:ReporterID", namespaces=n) == "POP000001"
    assert (
        root.findtext("r:Total/r:Incoming", namespaces=n),
        root.findtext("r:Total/r:Outgoing", namespaces=n),
    ) == ("6", "4")
    assert subtotals(record.xml, "PerTP") == {("peppol-transport-as4-v2_0",): (6, 4)}
    mls = "urn:peppol:edec:mls:1.0::ApplicationResponse##urn:peppol:edec:mls:1.0::2.1"
    assert subtotals(record.xml, "PerSP-DT-PR") == {
        ("POP000002", INVOICE, BILLING): (3, 2),
        ("POP000002", CREDIT, BILLING): (1, 1),
        ("POP000003", INVOICE, BILLING): (1, 0),
        ("POP000003", mls, "urn:peppol:edec:mls"): (1, 0),
        ("POP000004", INVOICE, BILLING): (0, 1),
    }
    cc = subtotals(record.xml, "PerSP-DT-PR-CC")
    assert cc[("POP000002", INVOICE, BILLING, "NO", "SE")] == (2, 0)
    assert cc[("POP000002", INVOICE, BILLING, "DK", "SE")] == (1, 0)
    assert cc[("POP000003", INVOICE, BILLING, "NO", "FI")] == (1, 0)
    assert sum(i for i, _ in cc.values()) == 6 and all(o == 0 for _, o in cc.values())
    assert json.loads(record.summary) == {"incoming": 6, "outgoing": 4, "subtotals": 1 + 5 + 5}


async def test_eusr_counts_distinct_end_users(traffic, validate):
    service = ReportingService(traffic, "POP000001", validate)
    record = await service.generate("eusr", "2026-01")
    assert record.valid, json.loads(record.validation)["findings"]
    root, n = ns(record.xml)
    full = tuple(
        int(root.findtext(f"r:FullSet/r:{t}", namespaces=n))
        for t in ("SendingEndUsers", "ReceivingEndUsers", "SendingOrReceivingEndUsers")
    )
    # senders 1111, 4444; receivers 1111, 2222, 3333 (the MLS has no end user): union of 4
    assert full == (2, 3, 4)
    assert subsets(record.xml, "PerDT-PR") == {
        (CREDIT, BILLING): (1, 1, 1),
        (INVOICE, BILLING): (2, 3, 4),
    }
    assert subsets(record.xml, "PerEUC") == {
        ("FI",): (0, 1, 1),
        ("NO",): (1, 0, 1),
        ("SE",): (1, 2, 2),
    }
    assert subsets(record.xml, "PerDT-EUC")[(INVOICE, "SE")] == (1, 2, 2)
    assert subsets(record.xml, "PerDT-PR-EUC")[(INVOICE, BILLING, "NO")] == (1, 0, 1)


async def test_zero_months_are_valid_reports(db, validate):
    service = ReportingService(db, "POP000001", validate)
    tsr = await service.generate("tsr", "2026-03")
    eusr = await service.generate("eusr", "2026-03")
    assert tsr.valid and eusr.valid
    assert json.loads(tsr.summary) == {"incoming": 0, "outgoing": 0, "subtotals": 0}
    assert json.loads(eusr.summary) == {
        "sending_end_users": 0,
        "receiving_end_users": 0,
        "subsets": 0,
    }


async def test_an_unknown_c4_makes_the_report_invalid_and_it_is_not_sent(db, validate):
    async with db.write() as s:
        s.add(inbound(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), "POP000002", "0007:1", c4=""))
    service = ReportingService(db, "POP000001", validate)
    record = await service.generate("tsr", "2026-01")
    assert not record.valid
    listed = await service.list("2026-01")
    assert listed[0]["valid"] is False and listed[0]["delivery"] == "not sent"
    assert any("SCH-TSR" in f["rule"] for f in listed[0]["findings"]), listed[0]["findings"]
    with pytest.raises(ValueError, match="not valid"):
        await service.send(record)


async def test_official_examples_pass_our_validation_and_a_broken_one_does_not(
    corpus_dir: Path, validator
):
    examples = sorted((corpus_dir / "peppol-reporting").glob("*.xml"))
    assert len(examples) >= 10
    for path in examples:
        report = await validator.validate(path.read_bytes())
        assert report.accepted, (path.name, [f.rule for f in report.findings])
        assert report.scenario in ("peppol-tsr-1.0", "peppol-eusr-1.1")
    broken = (corpus_dir / "peppol-reporting" / "transaction-statistics-2.xml").read_bytes()
    broken = broken.replace(b"<Incoming>19</Incoming>", b"<Incoming>20</Incoming>", 1)
    report = await validator.validate(broken)
    assert not report.accepted and "SCH-TSR-04" in {f.rule for f in report.findings}


async def test_the_same_rows_give_the_same_bytes(traffic):
    rows = await export_rows(traffic)
    assert build_tsr(rows, "2026-01", "POP000001") == build_tsr(rows[::-1], "2026-01", "POP000001")


class Outbound:
    """Records what the schedule hands to the outbound queue (the AS4 delivery itself is
    tested end to end in tests/as4_integration/test_reporting.py)."""

    def __init__(self) -> None:
        self.submitted: list[dict] = []

    async def submit(self, tenant, raw, **kw):
        self.submitted.append({"tenant": tenant, "raw": raw, **kw})
        item = type("Item", (), {"document_id": f"doc-{len(self.submitted)}"})()
        return type("Submitted", (), {"item": item})()


async def test_schedule_sends_once_per_month_across_processes(traffic, validate):
    outbound = Outbound()
    a = ReportingService(traffic, "POP000001", validate, outbound, owner="a")
    b = ReportingService(traffic, "POP000001", validate, outbound, owner="b")
    assert await a.run_schedule(dt.date(2026, 2, 16)) == []  # after day 15: nothing
    done = await asyncio.gather(
        a.run_schedule(dt.date(2026, 2, 3)), b.run_schedule(dt.date(2026, 2, 3))
    )
    assert sorted(r.kind for batch in done for r in batch) == ["eusr", "tsr"]
    assert len(outbound.submitted) == 2
    sent = {s["document_type"]: s for s in outbound.submitted}
    tsr = sent[TSR_DOCUMENT_TYPE]
    assert tsr["receiver"] == REPORTING_RECEIVER and tsr["tenant"] == REPORTING_TENANT
    assert tsr["sender"] == "0242:POP000001"
    assert tsr["process"] == "cenbii-procid-ubl::urn:fdc:peppol.eu:edec:bis:reporting:1.0"
    # A later look in the same window, by any process, sends nothing again.
    assert await a.run_schedule(dt.date(2026, 2, 10)) == []
    assert await b.run_schedule(dt.date(2026, 2, 15)) == []
    assert len(outbound.submitted) == 2
    listed = await a.list("2026-01")
    assert {r["kind"] for r in listed} == {"tsr", "eusr"} and all(r["document_id"] for r in listed)
