"""Sequencing of France's lifecycle statuses (XP Z12-014 annex B, 1.2 "Building life cycles").

- Transmission statuses (MDT-77 = 305: 200/201 by the issuer's platform, 202/203 by the
  receiver's, 213 by either) come in their order; one that arrives after a later transmission
  status, or after any processing status, is recorded and changes nothing (it arrived late).
- Processing statuses (MDT-77 = 23, set by the parties) "can occur at any time and in any
  order": each one moves the invoice, as far as the lifecycle's model allows.
- Final codes (213 Rejetée, 210 Refusée, 220 Annulée) end the life cycle: nothing follows.

Because the decision depends on the last applied status and the new one only, repeated and
out-of-order messages end where these rules say, not where arrival order would put them.
"""

from __future__ import annotations

from gateway.france.codes import Code

TRANSMISSION = "305"
#: The order of transmission statuses; 213 can come at either end (issue or receipt).
TRANSMISSION_ORDER = ("200", "201", "202", "203")
_RANK = {code: i for i, code in enumerate(TRANSMISSION_ORDER)}


def conflict(last: Code | None, new: Code) -> str | None:
    """Why ``new`` may not follow ``last`` (None = it may)."""
    if last is None:
        return None
    if last.final:
        return f"{last.name} is final; nothing may follow it"
    if new.type_code != TRANSMISSION or new.code == "213":
        return None
    if last.type_code != TRANSMISSION:
        return f"{new.name} is a transmission status and arrived after {last.name}"
    if _RANK.get(new.code, 99) < _RANK.get(last.code, -1):
        return f"{new.name} cannot follow {last.name}; the order is 200 -> 201 -> 202 -> 203"
    return None
