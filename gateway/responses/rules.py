"""Sequencing rules of Peppol Invoice Responses (the sales status model is the lifecycle's).

The rules are keyed by response *code* (never by status name), so an operator who renames the
statuses in the mapping table keeps Peppol's semantics:

- the order is AB -> IP -> UQ -> CA -> RE -> AP -> PD; any code may come first, any may be
  skipped, but none may go back;
- UQ may repeat; PD may come in steps (PD with reason PPD = partially paid, then PD = paid);
- after AP only PD may follow; RE and full PD are final.

A response that breaks them is a *conflict*: recorded, shown to admins, status unchanged.
A response that passes them asks :mod:`gateway.lifecycle` to move the invoice (role
``counterpart``); the lifecycle's outbound model still has the last word.
Because the decision depends only on the last applied response and the new one, responses
that arrive out of order end where the rules say (AB, PD, IP -> paid), not where arrival
order would put them.
"""

from __future__ import annotations

from dataclasses import dataclass

ORDER = ("AB", "IP", "UQ", "CA", "RE", "AP", "PD")
_RANK = {code: i for i, code in enumerate(ORDER)}
ARROWS = " -> ".join(ORDER)


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


__all__ = ["ORDER", "Step", "conflict"]
