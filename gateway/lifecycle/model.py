"""Status models as data: one TOML file per direction and document family (``models/``).

A model lists the statuses, the transitions with the roles that may make each, the final
statuses, the statuses whose entry is not worth a webhook event, and the exact sentence a
refused move answers with. :meth:`StatusModel.check` is the only judge of a move; the
lifecycle's mover calls it before it writes anything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.lifecycle.vocabulary import ADMIN, API, ROLES

MODELS_DIR = Path(__file__).resolve().parent / "models"
#: Document kinds without a workflow of their own (Invoice Responses, MLS, MLR; France's
#: CDAR lifecycle messages).
MESSAGE_KINDS = frozenset({"ApplicationResponse", "CrossDomainAcknowledgementAndResponse"})
STATUS_CHANGED = "document.status_changed"


class ModelError(ValueError):
    """A model or profile file is inconsistent; the message names the file and the entry."""


class IllegalTransition(Exception):
    """A move the model does not allow; ``str(exc)`` is the reason, ``code`` the problem code."""

    code = "illegal-transition"

    def __init__(self, current: str, target: str, reason: str) -> None:
        super().__init__(reason)
        self.current = current
        self.target = target
        self.reason = reason


class NoWorkflow(IllegalTransition):
    """The document (an Invoice Response, MLS, MLR) has no workflow a client could move."""

    code = "no-workflow"


@dataclass(frozen=True)
class StatusModel:
    id: str
    direction: str
    family: str
    statuses: tuple[str, ...]
    #: from -> {to: roles that may make the move}
    transitions: dict[str, dict[str, frozenset[str]]]
    final: frozenset[str] = frozenset()
    #: Entering these statuses sends no webhook event (e.g. ``forwarded``, ``sending``).
    quiet: frozenset[str] = frozenset()
    #: status -> webhook event type when a document enters it (default document.status_changed).
    events: dict[str, str] = field(default_factory=dict)
    #: (from or "*", to or "*") -> the sentence a refused move answers with.
    hints: dict[tuple[str, str], str] = field(default_factory=dict)
    #: status -> webhook event type when a new document is stored with it (document.duplicate).
    initial_events: dict[str, str] = field(default_factory=dict)
    #: Set for documents without a workflow: what a client's move is refused with.
    no_workflow: str | None = None
    descriptions: dict[str, str] = field(default_factory=dict)

    def allows(self, current: str, target: str, role: str) -> bool:
        who = self.transitions.get(current, {}).get(target, frozenset())
        return role in who or (role == ADMIN and API in who)

    def check(self, current: str, target: str, role: str) -> None:
        """Raise :class:`IllegalTransition` unless ``role`` may move ``current`` -> ``target``."""
        if self.allows(current, target, role):
            return
        if self.no_workflow and role in (API, ADMIN):
            raise NoWorkflow(current, target, self.no_workflow)
        if target not in self.statuses:
            raise IllegalTransition(
                current,
                target,
                f"'{target}' is not a status of {self.direction} documents; "
                f"known statuses: {', '.join(self.statuses)}.",
            )
        raise IllegalTransition(current, target, self.explain(current, target, role))

    def explain(self, current: str, target: str, role: str) -> str:
        if current == target:
            return f"The document already has the status {target}."
        for key in ((current, target), ("*", target), (current, "*")):
            if key in self.hints:
                return self.hints[key].replace("{from}", current).replace("{to}", target)
        if target in self.transitions.get(current, {}):
            return f"Only the gateway itself can change the status from {current} to {target}."
        if current in self.final:
            return f"The status {current} is final; it cannot be changed."
        options = ", ".join(self.next_statuses(current, role)) or "none"
        return (
            f"You cannot change the status from {current} to {target}; "
            f"allowed next statuses: {options}."
        )

    def next_statuses(self, current: str, role: str = API) -> list[str]:
        return sorted(t for t in self.transitions.get(current, {}) if self.allows(current, t, role))

    def event_for(self, target: str) -> str | None:
        """Webhook event type for entering ``target`` (None: no event)."""
        if target in self.quiet:
            return None
        return self.events.get(target, STATUS_CHANGED)


def family_of(kind: str | None) -> str:
    return "message" if kind in MESSAGE_KINDS else "invoice"


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ModelError(f"{where}: expected a status name or a list of them, got {value!r}")


def parse_model(raw: dict[str, Any], where: str) -> StatusModel:
    """Build a model from its TOML table; every name used must be a declared status."""
    statuses = raw.get("statuses")
    if not isinstance(statuses, dict) or not statuses:
        raise ModelError(f"{where}: [statuses] is missing")
    known = set(statuses) | {"*"}

    def names(value: Any, entry: str) -> list[str]:
        out = _names(value, f"{where}: {entry}")
        unknown = [n for n in out if n not in known]
        if unknown:
            raise ModelError(f"{where}: {entry} names unknown statuses {', '.join(unknown)}")
        return out

    transitions: dict[str, dict[str, frozenset[str]]] = {s: {} for s in statuses}
    for i, t in enumerate(raw.get("transitions", [])):
        entry = f"transitions[{i}]"
        who = frozenset(_names(t.get("who", []), f"{where}: {entry}.who"))
        if not who or who - set(ROLES):
            raise ModelError(f"{where}: {entry}.who must be among {', '.join(ROLES)}")
        targets = names(t["to"], f"{entry}.to")
        for src in names(t["from"], f"{entry}.from"):
            for dst in targets:
                row = transitions.setdefault(src, {})
                row[dst] = row.get(dst, frozenset()) | who
    hints = {}
    for i, r in enumerate(raw.get("refusals", [])):
        entry = f"refusals[{i}]"
        for src in names(r.get("from", "*"), f"{entry}.from"):
            for dst in names(r.get("to", "*"), f"{entry}.to"):
                hints[(src, dst)] = str(r["message"])
    events = {str(k): str(v) for k, v in (raw.get("events") or {}).items()}
    names(list(events), "[events]")
    initial_events = {str(k): str(v) for k, v in (raw.get("initial_events") or {}).items()}
    names(list(initial_events), "[initial_events]")
    return StatusModel(
        id=str(raw.get("id", where)),
        direction=str(raw["direction"]),
        family=str(raw.get("family", "invoice")),
        statuses=tuple(statuses),
        transitions=transitions,
        final=frozenset(names(raw.get("final", []), "final")),
        quiet=frozenset(names(raw.get("quiet", []), "quiet")),
        events=events,
        initial_events=initial_events,
        hints=hints,
        no_workflow=raw.get("no_workflow"),
        descriptions={str(k): str(v) for k, v in statuses.items()},
    )


def load_model(path: Path) -> StatusModel:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path} is not valid TOML: {exc}") from exc
    return parse_model(raw, str(path))


@dataclass(frozen=True)
class Models:
    """The canonical models of one app, by (direction, family)."""

    by_key: dict[tuple[str, str], StatusModel]

    @classmethod
    def load(cls, folder: Path = MODELS_DIR) -> Models:
        models = [load_model(p) for p in sorted(folder.glob("*.toml"))]
        return cls({(m.direction, m.family): m for m in models})

    def get(self, direction: str, kind: str | None = None) -> StatusModel:
        try:
            return self.by_key[(direction, family_of(kind))]
        except KeyError:
            raise KeyError(f"no status model for {direction} {kind or 'documents'}") from None
