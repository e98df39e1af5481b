"""TSR 1.0 and EUSR 1.1 XML from the reporting rows of one month.

The rows are what the AS4 channel and transport write for every exchanged message
(``gateway.as4.reporting``); the layouts follow the OpenPeppol specifications exactly as the
pinned Schematron (phive-rules TSR 1.0.5, EUSR 1.1.5) checks them:

- **TSR**: ``Total`` in/out, then (when there was traffic) subtotals per transport profile
  (``PerTP``), per other service provider, document type and process (``PerSP-DT-PR``) and,
  for incoming messages only, per SP/DT/PR and sender/receiver country (``PerSP-DT-PR-CC``;
  SCH-TSR-43: a C2 cannot know C4's country, so outgoing is 0 there). MLS are Peppol
  transactions and are counted; the reports themselves are not.
- **EUSR**: distinct end users *we serve* - C1 of what we sent, C4 of what we received - in the
  full set and per DT-PR, DT-PR-country, DT-country and country (the end user's country: C1's
  for senders, C4's for receivers). MLS have no end user and are left out.

Why a pure function of rows: the same month always gives the same bytes, so a report can be
regenerated, compared and re-validated at any time.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from lxml import etree

TSR_NS = "urn:fdc:peppol:transaction-statistics-report:1.0"
EUSR_NS = "urn:fdc:peppol:end-user-statistics-report:1.1"
TSR_CUSTOMIZATION = "urn:fdc:peppol.eu:edec:trns:transaction-statistics-reporting:1.0"
EUSR_CUSTOMIZATION = "urn:fdc:peppol.eu:edec:trns:end-user-statistics-report:1.1"
PROFILE = "urn:fdc:peppol.eu:edec:bis:reporting:1.0"
#: The Peppol document type ids of the two reports (Peppol Reporting BIS, "Document type").
TSR_DOCUMENT_TYPE = (
    f"busdox-docid-qns::{TSR_NS}::TransactionStatisticsReport##{TSR_CUSTOMIZATION}::1.0"
)
EUSR_DOCUMENT_TYPE = (
    f"busdox-docid-qns::{EUSR_NS}::EndUserStatisticsReport##{EUSR_CUSTOMIZATION}::1.1"
)
REPORTING_PROCESS = f"cenbii-procid-ubl::{PROFILE}"
#: OpenPeppol's reporting receiver, and the scheme of a service provider's own sender id.
REPORTING_RECEIVER = "9925:be0848934496"
SEAT_SCHEME = "0242"
AS4_PROFILE = "peppol-transport-as4-v2_0"
DT_SCHEME, PR_SCHEME = "busdox-docid-qns", "cenbii-procid-ubl"

_REPORT_TYPES = (TSR_NS, EUSR_NS)


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """``"2026-01"`` -> (first day, last day); ValueError for anything else."""
    try:
        first = dt.datetime.strptime(month, "%Y-%m").date()
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, not {month!r}") from exc
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def is_report(row: Mapping[str, Any]) -> bool:
    return any(ns in (row.get("document_type_id") or "") for ns in _REPORT_TYPES)


def _root(ns: str, customization: str, month: str, reporter: str) -> etree._Element:
    first, last = month_bounds(month)
    root = etree.Element(
        f"{{{ns}}}{'TransactionStatisticsReport' if ns == TSR_NS else 'EndUserStatisticsReport'}",
        nsmap={None: ns},
    )
    _sub(root, ns, "CustomizationID", customization)
    _sub(root, ns, "ProfileID", PROFILE)
    header = _sub(root, ns, "Header")
    period = _sub(header, ns, "ReportPeriod")
    _sub(period, ns, "StartDate", first.isoformat())
    _sub(period, ns, "EndDate", last.isoformat())
    _sub(header, ns, "ReporterID", reporter, schemeID="CertSubjectCN")
    return root


def _sub(
    parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrib: str
) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _key(parent: etree._Element, ns: str, meta: str, scheme: str, value: str) -> None:
    _sub(parent, ns, "Key", value, metaSchemeID=meta, schemeID=scheme)


def _tostring(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_tsr(rows: Iterable[Mapping[str, Any]], month: str, reporter: str) -> bytes:
    """The Transaction Statistics Report of ``month`` for the AP with seat id ``reporter``."""
    ns = TSR_NS
    total: Counter[str] = Counter()
    per_sp: defaultdict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    per_cc: Counter[tuple[str, str, str, str, str]] = Counter()
    for r in rows:
        if is_report(r):
            continue
        way = "in" if r["direction"] == "inbound" else "out"
        other = r["sender_ap"] if way == "in" else r["receiver_ap"]
        key = (other, r["document_type_id"], r["process_id"])
        total[way] += 1
        per_sp[key][way] += 1
        if way == "in":
            per_cc[(*key, r["country_c1"], r["country_c4"])] += 1
    root = _root(ns, TSR_CUSTOMIZATION, month, reporter)
    _counts(_sub(root, ns, "Total"), ns, total["in"], total["out"])
    if total:
        sub = _sub(root, ns, "Subtotal", type="PerTP")
        _key(sub, ns, "TP", "Peppol", AS4_PROFILE)
        _counts(sub, ns, total["in"], total["out"])
        for (sp, doctype, process), n in sorted(per_sp.items()):
            sub = _sub(root, ns, "Subtotal", type="PerSP-DT-PR")
            _sp_dt_pr(sub, ns, sp, doctype, process)
            _counts(sub, ns, n["in"], n["out"])
        for (sp, doctype, process, c1, c4), n in sorted(per_cc.items()):
            sub = _sub(root, ns, "Subtotal", type="PerSP-DT-PR-CC")
            _sp_dt_pr(sub, ns, sp, doctype, process)
            _key(sub, ns, "CC", "SenderCountry", c1)
            _key(sub, ns, "CC", "ReceiverCountry", c4)
            _counts(sub, ns, n, 0)
    return _tostring(root)


def _sp_dt_pr(sub: etree._Element, ns: str, sp: str, doctype: str, process: str) -> None:
    _key(sub, ns, "SP", "CertSubjectCN", sp)
    _key(sub, ns, "DT", DT_SCHEME, doctype)
    _key(sub, ns, "PR", PR_SCHEME, process)


def _counts(parent: etree._Element, ns: str, incoming: int, outgoing: int) -> None:
    _sub(parent, ns, "Incoming", str(incoming))
    _sub(parent, ns, "Outgoing", str(outgoing))


def build_eusr(rows: Iterable[Mapping[str, Any]], month: str, reporter: str) -> bytes:
    """The End User Statistics Report of ``month`` for the AP with seat id ``reporter``."""
    ns = EUSR_NS
    # end user -> (role, document type, process, country) facts
    facts: list[tuple[str, str, str, str, str]] = []
    for r in rows:
        if is_report(r) or r.get("kind") == "mls":
            continue
        if r["direction"] == "outbound":
            facts.append(
                (
                    "send",
                    r["sender"].lower(),
                    r["document_type_id"],
                    r["process_id"],
                    r["country_c1"],
                )
            )
        else:
            facts.append(
                (
                    "recv",
                    r["receiver"].lower(),
                    r["document_type_id"],
                    r["process_id"],
                    r["country_c4"],
                )
            )

    def tally(select: Any) -> dict[tuple[str, ...], tuple[int, int, int]]:
        groups: defaultdict[tuple[str, ...], tuple[set[str], set[str]]] = defaultdict(
            lambda: (set(), set())
        )
        for role, user, doctype, process, country in facts:
            key = select(doctype, process, country)
            groups[key][0 if role == "send" else 1].add(user)
        return {k: (len(s), len(r), len(s | r)) for k, (s, r) in sorted(groups.items())}

    root = _root(ns, EUSR_CUSTOMIZATION, month, reporter)
    full = tally(lambda d, p, c: ()).get((), (0, 0, 0))
    _users(_sub(root, ns, "FullSet"), ns, full)
    subsets = (
        ("PerDT-PR", lambda d, p, c: (d, p), ("DT", "PR")),
        ("PerDT-PR-EUC", lambda d, p, c: (d, p, c), ("DT", "PR", "CC")),
        ("PerDT-EUC", lambda d, p, c: (d, c), ("DT", "CC")),
        ("PerEUC", lambda d, p, c: (c,), ("CC",)),
    )
    schemes = {"DT": DT_SCHEME, "PR": PR_SCHEME, "CC": "EndUserCountry"}
    for kind, select, metas in subsets:
        for key, counts in tally(select).items():
            sub = _sub(root, ns, "Subset", type=kind)
            for meta, value in zip(metas, key, strict=True):
                _key(sub, ns, meta, schemes[meta], value)
            _users(sub, ns, counts)
    return _tostring(root)


def _users(parent: etree._Element, ns: str, counts: tuple[int, int, int]) -> None:
    sending, receiving, either = counts
    _sub(parent, ns, "SendingEndUsers", str(sending))
    _sub(parent, ns, "ReceivingEndUsers", str(receiving))
    _sub(parent, ns, "SendingOrReceivingEndUsers", str(either))


def missing_countries(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows a report needs a country for but that have none (C1 or, inbound, C4)."""
    out = []
    for r in rows:
        if is_report(r):
            continue
        needed = [r["country_c1"]] + ([r["country_c4"]] if r["direction"] == "inbound" else [])
        if r["direction"] == "outbound" and r.get("kind") != "mls":
            needed = [r["country_c1"]]
        if not all(len(c or "") == 2 for c in needed):
            out.append(r)
    return out
