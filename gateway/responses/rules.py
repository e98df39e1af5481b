"""Sequencing rules of Peppol Invoice Responses, and the outbound (sales) status model.

The rules are keyed by response *code* (never by status name), so an operator who renames the
statuses in the mapping table keeps Peppol's semantics:

- the order is AB -> IP -> UQ -> CA -> RE -> AP -> PD; any code may come first, any may be
  skipped, but none may go back;
- UQ may repeat; PD may come in steps (PD with reason PPD = partially paid, then PD = paid);
- after AP only PD may follow; RE and full PD are final.

A response that breaks them is a *conflict*: recorded, shown to admins, status unchanged.
Because the decision depends only on the last applied response and the new one, responses
that arrive out of order end where the rules say (AB, PD, IP -> paid), not where arrival
order would put them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.responses.mapping import Mapping, load_mapping
from gateway.store.statuses import ADMIN, SYSTEM, StatusModel, register_model

ORDER = ("AB", "IP", "UQ", "CA", "RE", "AP", "PD")
_RANK = {code: i for i, code in enumerate(ORDER)}
ARROWS = " -> ".join(ORDER)

# Statuses written by the outbound queue and by AS4 Message Level Status (MLS).
QUEUED, SENDING, RETRYING, DELIVERED, FAILED = (
    "queued",
    "sending",
    "retrying",
    "delivered",
    "failed",
)
QUEUE_STATUSES = (QUEUED, SENDING, RETRYING, DELIVERED, FAILED)
MLS_STATUSES = ("delivered_to_recipient", "rejected_by_recipient")
OVERDUE = "overdue"


@dataclass(frozen=True)
class Step:
    """One applied Invoice Response: its code and whether it was a partial payment (PPD)."""

    code: str
    partial: bool = False

    @property
    def final(self) -> bool:
        return self.code == "RE" or (self.code == "PD" and not self.partial)


def conflict(current: Step | None, new: Step) -> str | None:
    """Why ``new`` may not follow ``current`` (None = it may)."""
    if current is None:
        return None
    if current.code == "RE":
        return "the invoice was rejected (RE); RE is final and nothing may follow it"
    if current.final:
        return "the invoice is paid (PD); full payment is final and nothing may follow it"
    if current.code == "PD":  # partially paid
        return (
            None
            if new.code == "PD"
            else (f"{new.code} cannot follow a partial payment (PD with PPD); only PD may follow")
        )
    if current.code == "AP":
        return (
            None
            if new.code == "PD"
            else (f"{new.code} cannot follow AP (accepted); after AP only PD may follow")
        )
    if new.code == current.code:
        return None if new.code == "UQ" else (f"{new.code} was already applied; only UQ may repeat")
    if _RANK[new.code] < _RANK[current.code]:
        return f"{new.code} cannot follow {current.code}; the order is {ARROWS}"
    return None


def outbound_model(mapping: Mapping) -> StatusModel:
    """The outbound (sales) status model for ``mapping``'s status names.

    The queue and MLS write their statuses directly (source ``outbound`` / ``as4``); Invoice
    Responses are applied by :mod:`gateway.responses.service` with the code rules above. The
    model states the same facts for ``check()`` callers and the API: clients cannot set
    sales-invoice statuses themselves (the counterpart does, by Invoice Response), only the
    gateway and admins can.
    """
    sys_ = frozenset({SYSTEM})
    imr = mapping.statuses
    final = {mapping.codes["RE"].status, mapping.codes["PD"].status}
    live = [s for s in imr if s not in final]
    trans: dict[str, dict[str, frozenset[str]]] = {
        QUEUED: {SENDING: sys_},
        SENDING: {SENDING: sys_, RETRYING: sys_, DELIVERED: sys_, FAILED: sys_, **_mls()},
        RETRYING: {SENDING: sys_},
        FAILED: {QUEUED: frozenset({ADMIN})},
        # A bounce (e-mail DSN) after the relay took the mail: the delivery failed after all.
        DELIVERED: {FAILED: sys_, **_mls()},
        "delivered_to_recipient": {},
        "rejected_by_recipient": {},
    }
    # An Invoice Response can arrive in any non-final state (even before the queue finished).
    for status in (QUEUED, SENDING, RETRYING, DELIVERED, *MLS_STATUSES, OVERDUE, *live):
        row = trans.setdefault(status, {})
        for target in imr:
            row.setdefault(target, sys_)
        if status not in (QUEUED, SENDING, RETRYING, OVERDUE):
            row.setdefault(OVERDUE, sys_)
    for status in final:
        trans[status] = {}
    return StatusModel(
        direction="outbound",
        statuses=(*QUEUE_STATUSES, *MLS_STATUSES, *imr, OVERDUE),
        transitions=trans,
        final=frozenset(final),
        hints={
            **{
                ("*", s): f"Only the buyer's Invoice Response sets a sales invoice to {s}."
                for s in imr
            },
            **{
                ("*", s): f"Only the outbound queue sets a sales invoice to {s}."
                for s in QUEUE_STATUSES
            },
            ("*", OVERDUE): "Only the overdue timer marks a sales invoice overdue.",
        },
    )


def register_outbound_model(mapping: Mapping | None = None) -> StatusModel:
    """Register the outbound model for ``mapping`` (default: the shipped table)."""
    model = outbound_model(mapping or load_mapping())
    register_model(model)
    return model


def _mls() -> dict[str, frozenset[str]]:
    return {s: frozenset({SYSTEM}) for s in MLS_STATUSES}


__all__ = ["ORDER", "Step", "conflict", "outbound_model", "register_outbound_model"]
