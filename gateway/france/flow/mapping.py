"""Our documents seen as AFNOR flows: the ``Flow`` object of XP Z12-013, from ``mapping.toml``.

A flow is a stored document of one of the flow kinds (invoices, credit notes, CDAR lifecycle
messages). Everything the Flow API says about it is read off the record and the table:
direction (who gave it to whom), syntax, profile (by validation scenario), processing rule
(given by the client at submission, else computed), flow type (by kind and direction, a
lifecycle message by the invoice it concerns) and acknowledgement (validation, duplicate,
what became of a received lifecycle message). Nothing here writes.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gateway.store import Document, iso

MAPPING_FILE = Path(__file__).resolve().parent / "mapping.toml"
#: Where a flow's client-given facts (flowInfo) are kept: ``documents.metadata["afnor"]``.
META_KEY = "afnor"
IN, OUT = "In", "Out"
PDF_TYPE = "application/pdf"
#: At most this many acknowledgement details per flow (the report keeps them all).
MAX_DETAILS = 50


@dataclass(frozen=True)
class Mapping:
    raw: dict[str, Any]

    @property
    def out_channels(self) -> frozenset[str]:
        return frozenset(self.raw["direction"]["out_channels"])

    @property
    def invoice_kinds(self) -> tuple[str, ...]:
        return tuple(self.raw["flow_type"]["invoice_kinds"])

    @property
    def lifecycle_kinds(self) -> tuple[str, ...]:
        return tuple(self.raw["flow_type"]["lifecycle_kinds"])

    @property
    def flow_kinds(self) -> tuple[str, ...]:
        return self.invoice_kinds + self.lifecycle_kinds

    def syntax_of(self, doc: Document) -> str:
        key = "pdf" if doc.content_type == PDF_TYPE else (doc.syntax or "")
        return self.raw["syntax"].get(key, "CII" if key == "pdf" else "UBL")

    def profile_of(self, doc: Document) -> str:
        if not doc.scenario:
            return "Undefined"
        for entry in self.raw["profile"]:
            if fnmatch.fnmatchcase(doc.scenario, entry["scenario"]):
                return str(entry["profile"])
        return "Undefined"

    def direction_of(self, doc: Document) -> str:
        if doc.direction == "outbound" or doc.channel in self.out_channels:
            return OUT
        return IN

    def processing_rule_of(self, doc: Document) -> tuple[str, str]:
        """(rule, source): the client's rule (``Input``), else the computed one."""
        given = (doc.meta or {}).get(META_KEY, {}).get("processingRule")
        if given and given != "Undefined":
            return str(given), "Input"
        rules = self.raw["processing_rule"]
        if doc.kind in self.lifecycle_kinds:
            return rules["lifecycle"], "Computed"
        if any(fnmatch.fnmatchcase(doc.scenario or "", g) for g in rules["french_scenarios"]):
            return rules["both_french"], "Computed"
        scheme = rules["french_scheme"] + ":"
        french = sum(
            1 for e in (doc.sender_endpoint, doc.receiver_endpoint) if (e or "").startswith(scheme)
        )
        key = {2: "both_french", 1: "one_french"}.get(french, "none_french")
        return rules[key], "Computed"

    def flow_type_of(
        self,
        doc: Document,
        lifecycle: LifecycleFacts | None,
        report: dict[str, Any] | None = None,
    ) -> str:
        types = self.raw["flow_type"]
        direction = self.direction_of(doc)
        self_billed = types["self_billed_type_codes"]
        if doc.kind in self.invoice_kinds:
            # A self-billed invoice is issued by the buyer: ours when we send it, so the flow
            # types are the other way round (XP Z12-013 FlowType).
            type_code = ((report or {}).get("document") or {}).get("type_code")
            outgoing = direction == OUT
            if type_code in self_billed:
                outgoing = not outgoing
            return types["invoice_out" if outgoing else "invoice_in"]
        if doc.kind in self.lifecycle_kinds:
            if lifecycle is not None and lifecycle.invoice_direction is not None:
                # The messages about an invoice follow its flow type: a self-billed invoice we
                # send is a supplier invoice, so its messages are SupplierInvoiceLC.
                sales = lifecycle.invoice_direction == "outbound"
                if lifecycle.invoice_type_code in self_billed:
                    sales = not sales
                if lifecycle.for_state_platform:
                    return types["lifecycle_state_sales" if sales else "lifecycle_state_purchase"]
                return types["lifecycle_sales" if sales else "lifecycle_purchase"]
            return types["lifecycle_out" if direction == OUT else "lifecycle_in"]
        return types["other"]

    def reason_for(self, source: str, lifecycle: bool) -> str:
        reasons = self.raw["ack"]["finding_reasons"]
        if source in reasons and source != "default":
            return str(reasons[source])
        return str(reasons["lifecycle" if lifecycle else "default"])

    def error_code(self, problem_code: str) -> str:
        return str(self.raw["errors"].get(problem_code) or problem_code.upper().replace("-", "_"))


@dataclass(frozen=True)
class LifecycleFacts:
    """What the France package knows of a lifecycle message (its ``cdar_statuses`` row)."""

    state: str
    code: str | None
    invoice_direction: str | None
    for_state_platform: bool
    detail: str | None
    #: A message the gateway received (its state says what became of it), not one it sent.
    received: bool = True
    #: The invoice's type code (UNTDID 1001): a self-billed one flips the flow type.
    invoice_type_code: str | None = None


@cache
def load_mapping(path: Path = MAPPING_FILE) -> Mapping:
    return Mapping(tomllib.loads(path.read_text(encoding="utf-8")))


def acknowledgement(
    m: Mapping, doc: Document, report: dict[str, Any] | None, lc: LifecycleFacts | None
) -> dict[str, Any]:
    """``{status: Pending|Ok|Error, details?}`` of a flow."""
    ack = m.raw["ack"]
    lifecycle = doc.kind in m.lifecycle_kinds
    details = _details(m, report, lifecycle)
    declared = (doc.meta or {}).get(META_KEY, {}).get("flowSyntax")
    if declared and declared != m.syntax_of(doc):
        why = f"declared flowSyntax {declared}, the file is {m.syntax_of(doc)}"
        details.insert(0, _detail("Error", "flowSyntax", ack["syntax_mismatch_reason"], why))
    # A received lifecycle message stored as a copy of an unproven one is judged on its own
    # (gateway.responses): its row, not the intake's duplicate mark, says what became of it.
    judged_copy = lifecycle and doc.status == "duplicate" and lc is not None and lc.received
    if doc.status == "duplicate" and not judged_copy:
        why = f"the same flow was already received: {doc.duplicate_of}"
        details.insert(0, _detail("Error", "flow", ack["duplicate_reason"], why))
    if (doc.status in ack["error_statuses"] and not judged_copy) or (
        report and not report.get("accepted", True)
    ):
        status = "Error"
    elif doc.status in ack["pending_statuses"]:
        status = "Pending"
    elif lifecycle and (lc.received if lc is not None else m.direction_of(doc) == IN):
        status = _lifecycle_status(m, lc, details)
    else:
        status = "Ok"
    if declared and declared != m.syntax_of(doc):
        status = "Error"
    out: dict[str, Any] = {"status": status}
    if details:
        out["details"] = details[:MAX_DETAILS]
    return out


def _lifecycle_status(m: Mapping, lc: LifecycleFacts | None, details: list[Any]) -> str:
    if lc is None:
        return "Pending"  # stored; the France package has not decided on it yet
    status, reason = m.raw["ack"]["lifecycle"].get(lc.state, ["Pending", ""])
    if reason:
        why = lc.detail or lc.state
        details.insert(0, _detail("Error", f"status {lc.code or '?'}", reason, why))
    return str(status)


def _details(m: Mapping, report: dict[str, Any] | None, lifecycle: bool) -> list[dict[str, Any]]:
    out = []
    for f in (report or {}).get("findings") or []:
        severity = f.get("severity")
        if severity not in ("fatal", "error", "warning"):
            continue
        level = "Warning" if severity == "warning" else "Error"
        item = f.get("location") or f.get("rule") or "flow"
        reason = m.reason_for(str(f.get("source") or ""), lifecycle)
        message = f"[{f.get('rule')}] {f.get('message') or ''}".strip()
        out.append(_detail(level, str(item), reason, message))
        if len(out) >= MAX_DETAILS:
            break
    return out


def _detail(level: str, item: str, reason: str, message: str) -> dict[str, Any]:
    return {"level": level, "item": item, "reasonCode": reason, "reasonMessage": message}


def flow_of(
    m: Mapping,
    doc: Document,
    *,
    report: dict[str, Any] | None = None,
    lifecycle: LifecycleFacts | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``Flow`` object of XP Z12-013 for ``doc`` (plus ``gateway``: our own view)."""
    info = (doc.meta or {}).get(META_KEY, {})
    rule, source = m.processing_rule_of(doc)
    flow: dict[str, Any] = {
        "flowId": doc.id,
        "name": info.get("name") or _name(doc),
        "flowSyntax": m.syntax_of(doc),
        "flowProfile": m.profile_of(doc),
        "processingRule": rule,
        "processingRuleSource": source,
        "flowType": m.flow_type_of(doc, lifecycle, report),
        "flowDirection": m.direction_of(doc),
        "submittedAt": iso(doc.created_at),
        "updatedAt": iso(doc.updated_at or doc.created_at),
        "sha256": doc.sha256,
        "acknowledgement": acknowledgement(m, doc, report, lifecycle),
        # Not in XP Z12-013 (extra properties are allowed): the document's lifecycle status in
        # the gateway's canonical words, and the French lifecycle codes it received or sent.
        "gateway": {
            "documentId": doc.id,
            "status": doc.status,
            "statusReason": doc.status_reason,
            "lifecycle": statuses or [],
        },
    }
    if info.get("trackingId"):
        flow["trackingId"] = info["trackingId"]
    return flow


def _name(doc: Document) -> str:
    ext = "pdf" if doc.content_type == PDF_TYPE else "xml"
    return f"{doc.number or doc.id}.{ext}"
