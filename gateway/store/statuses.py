"""Status models, one per direction, as plain data.

Each :class:`StatusModel` lists which transitions are allowed and who may make them
(``api`` = a client via ``POST /v1/documents/{id}/status``; ``system`` = the gateway itself:
intake, forwarding, Invoice Responses). A refused transition gets a sentence a person can act on,
built from :data:`INBOUND.hints` first and generic rules second. The outbound (sales) model is
added by the Invoice-Response work with :func:`register_model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

API = "api"
SYSTEM = "system"
ADMIN = "admin"


class IllegalTransition(Exception):
    """A transition the status model does not allow; ``str(exc)`` is the reason for people."""

    def __init__(self, current: str, target: str, reason: str) -> None:
        super().__init__(reason)
        self.current = current
        self.target = target
        self.reason = reason


@dataclass(frozen=True)
class StatusModel:
    direction: str
    statuses: tuple[str, ...]
    #: from -> {to: who may do it}
    transitions: dict[str, dict[str, frozenset[str]]]
    final: frozenset[str] = frozenset()
    #: (from or "*", to) -> reason shown when that move is refused.
    hints: dict[tuple[str, str], str] = field(default_factory=dict)

    def check(self, current: str, target: str, who: str) -> None:
        """Raise :class:`IllegalTransition` unless ``who`` may move ``current`` -> ``target``."""
        if target not in self.statuses:
            raise IllegalTransition(
                current,
                target,
                f"'{target}' is not a status of {self.direction} documents; "
                f"known statuses: {', '.join(self.statuses)}.",
            )
        allowed = self.transitions.get(current, {})
        if who in allowed.get(target, frozenset()):
            return
        raise IllegalTransition(current, target, self.explain(current, target, who))

    def explain(self, current: str, target: str, who: str) -> str:
        if current == target:
            return f"The document already has the status {target}."
        for key in ((current, target), ("*", target), (current, "*")):
            if key in self.hints:
                return self.hints[key]
        if target in self.transitions.get(current, {}):
            return f"Only the gateway itself can change the status from {current} to {target}."
        if current in self.final:
            return f"The status {current} is final; it cannot be changed."
        reachable = sorted(t for t, w in self.transitions.get(current, {}).items() if who in w)
        options = ", ".join(reachable) if reachable else "none"
        return (
            f"You cannot change the status from {current} to {target}; "
            f"allowed next statuses: {options}."
        )

    def next_statuses(self, current: str, who: str = API) -> list[str]:
        return sorted(t for t, w in self.transitions.get(current, {}).items() if who in w)


def _t(*who: str) -> frozenset[str]:
    return frozenset(who)


_ANY = _t(API, SYSTEM)
_WORKFLOW = {  # the approval workflow of a purchase invoice, reachable once it was received
    "under_review": _ANY,
    "approved": _ANY,
    "rejected": _ANY,
    "paid": _ANY,
}

#: Inbound (purchase) documents. See ../shared/design/statuses.md, platform 2.
INBOUND = StatusModel(
    direction="inbound",
    statuses=(
        "received",
        "invalid",
        "duplicate",
        "unroutable",
        "forwarded",
        "under_review",
        "approved",
        "approved_for_payment",
        "rejected",
        "paid",
    ),
    transitions={
        "received": {"forwarded": _t(SYSTEM), **_WORKFLOW},
        "forwarded": dict(_WORKFLOW),
        "under_review": {"approved": _ANY, "rejected": _ANY},
        "approved": {
            "approved_for_payment": _ANY,
            "under_review": _ANY,
            "rejected": _ANY,
            "paid": _ANY,
        },
        "approved_for_payment": {"paid": _ANY, "rejected": _ANY},
        "duplicate": {"received": _t(ADMIN)},
        "unroutable": {"received": _t(ADMIN)},
        "invalid": {},
        "rejected": {},
        "paid": {},
    },
    final=frozenset({"invalid", "rejected", "paid"}),
    hints={
        ("duplicate", "received"): (
            "Only an admin can release a duplicate, with "
            "POST /v1/admin/documents/{id}/mark-original."
        ),
        ("unroutable", "received"): (
            "Only an admin can route an unroutable document, after adding the participant id."
        ),
        ("*", "received"): "You cannot change the status back to received.",
        ("*", "duplicate"): "Only duplicate detection marks documents as duplicate.",
        ("*", "invalid"): "Only validation marks documents as invalid.",
        ("*", "unroutable"): "Only intake marks documents as unroutable.",
        ("*", "forwarded"): "Only forwarding (webhook or inbox) marks documents as forwarded.",
        ("duplicate", "*"): (
            "The document is a duplicate. An admin must mark it as original first "
            "(POST /v1/admin/documents/{id}/mark-original)."
        ),
        ("unroutable", "*"): "The document is unroutable: no tenant owns its receiver id.",
        ("invalid", "*"): (
            "The document is invalid and cannot change status; the sender must send a "
            "corrected document."
        ),
        ("received", "approved_for_payment"): "You need to change the status to approved first.",
        ("forwarded", "approved_for_payment"): "You need to change the status to approved first.",
        ("under_review", "approved_for_payment"): (
            "You need to change the status to approved first."
        ),
        ("approved_for_payment", "approved"): (
            "You cannot change the status back to approved; it is already approved for payment."
        ),
        ("approved_for_payment", "under_review"): (
            "You cannot change the status back to under_review once approved for payment."
        ),
        ("under_review", "paid"): "You need to change the status to approved first.",
        ("paid", "*"): "The document is paid; paid is a final status.",
        ("rejected", "*"): "The document was rejected; rejected is a final status.",
    },
)

_MODELS: dict[str, StatusModel] = {"inbound": INBOUND}


def register_model(model: StatusModel) -> None:
    """Add or replace the status model of a direction (e.g. ``outbound``)."""
    _MODELS[model.direction] = model


def model_for(direction: str) -> StatusModel:
    if direction == "outbound" and direction not in _MODELS:
        # Defined by Invoice-Response handling (its statuses come from the mapping table).
        from gateway.responses.rules import register_outbound_model

        register_outbound_model()
    try:
        return _MODELS[direction]
    except KeyError:
        raise KeyError(f"no status model for direction {direction!r}") from None
