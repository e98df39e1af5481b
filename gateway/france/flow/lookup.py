"""A page of documents as flows, with what the France package knows of them, in three queries.

For lifecycle messages: their ``cdar_statuses`` row (the state that decides a received
message's acknowledgement, and the invoice it concerns, whose direction and type code (self-billed
or not) decide the flow type);
for invoices: the French lifecycle codes received or sent about them (``gateway.lifecycle``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.france.codes import load_codes
from gateway.france.flow.mapping import LifecycleFacts, Mapping, flow_of
from gateway.france.models import CdarRecord
from gateway.store import Document, iso


async def flows(
    session: AsyncSession,
    m: Mapping,
    docs: list[Document],
    reports: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The flows of ``docs``; their validation reports are ``reports[id]`` when given, else
    ``doc.report`` (load it with the documents)."""
    if not docs:
        return []
    ids = [d.id for d in docs]
    # Two lookups, one per indexed column (an OR of both is planned as a walk of the whole
    # table in seq order: tests/store/test_query_plans.py), merged in seq order.
    found: dict[int, CdarRecord] = {}
    for column in (CdarRecord.document_id, CdarRecord.invoice_id):
        for rec in await session.scalars(select(CdarRecord).where(column.in_(ids))):
            found[rec.seq] = rec
    records = [found[seq] for seq in sorted(found)]
    invoice_ids = {r.invoice_id for r in records if r.invoice_id and r.document_id in ids}
    # The invoices' direction and type code (a self-billed invoice's messages flip the flow
    # type as the invoice's do): the type code read inside the stored report, not the report.
    invoices = (
        {
            row.id: (row.direction, row.type_code)
            for row in await session.execute(
                select(
                    Document.id,
                    Document.direction,
                    Document.report["document"]["type_code"].as_string().label("type_code"),
                ).where(Document.id.in_(invoice_ids))
            )
        }
        if invoice_ids
        else {}
    )
    own: dict[str, CdarRecord] = {}
    about: dict[str, list[dict[str, Any]]] = {}
    codes = load_codes()
    for r in records:
        if r.document_id in ids:
            own.setdefault(r.document_id, r)
        if r.invoice_id in ids:
            code = codes.get(r.code)
            about.setdefault(r.invoice_id, []).append(
                {
                    "code": r.code,
                    "label": code.label if code else None,
                    "direction": r.direction,
                    "state": r.state,
                    "flowId": r.document_id,
                    "at": iso(r.created_at),
                }
            )
    out = []
    for doc in docs:
        rec = own.get(doc.id)
        facts = None
        if rec is not None:
            direction, type_code = invoices.get(rec.invoice_id or "", (None, None))
            facts = LifecycleFacts(
                state=rec.state,
                code=rec.code,
                invoice_direction=direction,
                invoice_type_code=type_code,
                for_state_platform=bool((rec.details or {}).get("for_state_platform")),
                detail=rec.detail,
                received=rec.direction == "received",
            )
        out.append(
            flow_of(
                m,
                doc,
                report=reports[doc.id] if reports is not None else doc.report,
                lifecycle=facts,
                statuses=about.get(doc.id, []),
            )
        )
    return out
