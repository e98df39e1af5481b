"""Status profiles: a platform's vocabulary and manual workflow over the canonical statuses.

A profile (one TOML file; shipped ones in ``profiles/``, user ones in the folder named by
``[lifecycle] profiles_dir``) has, per direction:

- ``[[<direction>.status]]`` entries: a ``name`` in the platform's words, the ``canonical``
  statuses it stands for, optionally ``when`` (a condition: ``overdue``, ``corrected``) and
  ``target`` (the canonical status a move to this name writes; default the first canonical);
  a document shows the first entry that fits (conditional entries are tried first), and a
  canonical status no entry names shows under its canonical name;
- ``[[<direction>.transitions]]`` (``from``, ``to``, ``who`` in the profile's names): when
  present they *replace* the canonical model's client moves (roles api/admin) for this
  direction; system and counterpart moves always follow the canonical model;
- ``[[<direction>.refusals]]``: the exact sentence of a refused move (``from``/``to`` names or
  ``"*"``), like platform 4's "You need to change the invoice status to Verified first";
- ``[[inbound.responses]]``: which of the tenant's moves of a purchase invoice send which Peppol
  Invoice Response (T111): ``status`` (names of this profile, or canonical statuses), ``code``
  (AB, IP, UQ, CA, RE, AP, PD), optionally ``reason`` (StatusReasonCode, OPStatusReason) and
  ``text`` (StatusReason sent when the tenant gave no reason of its own). A profile without the
  table sends what the ``default`` profile's table says; ``responses = []`` sends none.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gateway.lifecycle.model import IllegalTransition, ModelError, Models
from gateway.lifecycle.vocabulary import ADMIN, API, RESPONSE_CODES, ROLES

SHIPPED_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT = "default"
DIRECTIONS = ("inbound", "outbound")
#: Canonical statuses in which an invoice is settled: never overdue.
SETTLED = frozenset(
    {"paid", "canceled", "credited", "refunded", "uncollectible", "rejected", "deleted"}
)
UNSENT = frozenset({"draft", "verified", "partially_verified", "changes_requested"})
#: Canonical statuses of an invoice that never reached the buyer: not overdue either.
UNDELIVERED = frozenset({"failed", "rejected_by_recipient"})


def conditions_of(doc: Any, today: dt.date | None = None) -> frozenset[str]:
    """The conditions a profile can show: ``overdue`` (an issued invoice not fully paid past its
    due date, partially paid ones included; never written as a status, see
    :mod:`gateway.lifecycle.overdue`) and ``corrected`` (a draft whose content was
    replaced)."""
    out = set()
    today = today or dt.datetime.now(dt.UTC).date()
    if (
        doc.direction == "outbound"
        and doc.kind == "Invoice"
        and doc.due_date
        and doc.due_date < today.isoformat()
        and doc.status not in SETTLED | UNSENT | UNDELIVERED
    ):
        out.add("overdue")
    if int((doc.meta or {}).get("corrections", 0)):
        out.add("corrected")
    return frozenset(out)


@dataclass(frozen=True)
class ProfileStatus:
    name: str
    canonical: tuple[str, ...]
    when: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class ResponseRule:
    """The Invoice Response a move of a purchase invoice sends (see the module docstring)."""

    code: str
    reason: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class DirectionProfile:
    statuses: tuple[ProfileStatus, ...] = ()
    #: None: the canonical model's client moves apply; else from-name -> {to-name: roles}.
    transitions: dict[str, dict[str, frozenset[str]]] | None = None
    hints: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Canonical status an invoice gets when a credit note referencing it is issued.
    credit_note: str = "credited"
    #: Canonical inbound status -> the Invoice Response it sends (None: the default profile's).
    responses: dict[str, ResponseRule] | None = None

    def name_of(self, canonical: str, conditions: frozenset[str] = frozenset()) -> str:
        for entry in sorted(self.statuses, key=lambda e: e.when is None):
            if canonical in entry.canonical and (entry.when is None or entry.when in conditions):
                return entry.name
        return canonical

    def target_of(self, name: str) -> str | None:
        """The canonical status a move to ``name`` writes (None: not a name of this profile)."""
        for entry in self.statuses:
            if entry.name == name and entry.when is None:
                return entry.target or entry.canonical[0]
        return None

    def names(self) -> list[str]:
        return list(dict.fromkeys(e.name for e in self.statuses))

    def allows(self, current: str, target: str, role: str) -> bool:
        who = (self.transitions or {}).get(current, {}).get(target, frozenset())
        return role in who or (role == ADMIN and API in who)

    def check(self, current: str, target: str, role: str) -> None:
        if self.allows(current, target, role):
            return
        for key in ((current, target), ("*", target), (current, "*"), ("*", "*")):
            if key in self.hints:
                text = self.hints[key].replace("{from}", current).replace("{to}", target)
                raise IllegalTransition(current, target, text)
        if current == target:
            raise IllegalTransition(current, target, f"The invoice is already {target}.")
        options = ", ".join(self.next_names(current, role)) or "none"
        raise IllegalTransition(
            current,
            target,
            f"You cannot change the status from {current} to {target}; allowed: {options}.",
        )

    def next_names(self, current: str, role: str = API) -> list[str]:
        row = (self.transitions or {}).get(current, {})
        return sorted(t for t in row if self.allows(current, t, role))


@dataclass(frozen=True)
class Profile:
    id: str
    title: str
    inbound: DirectionProfile
    outbound: DirectionProfile
    source: str = ""

    def direction(self, direction: str) -> DirectionProfile:
        return self.inbound if direction == "inbound" else self.outbound


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ModelError(f"{where}: expected a name or a list of names, got {value!r}")


def _direction(raw: dict[str, Any], where: str, canonical: set[str]) -> DirectionProfile:
    statuses = []
    for i, e in enumerate(raw.get("status", [])):
        entry = f"{where}.status[{i}]"
        canon = tuple(_names(e.get("canonical"), f"{entry}.canonical"))
        unknown = [c for c in canon if c not in canonical]
        if unknown or (e.get("target") and e["target"] not in canonical):
            raise ModelError(f"{entry}: unknown canonical statuses {unknown or e['target']}")
        if e.get("when") not in (None, "overdue", "corrected"):
            raise ModelError(f"{entry}: when must be 'overdue' or 'corrected'")
        statuses.append(ProfileStatus(str(e["name"]), canon, e.get("when"), e.get("target")))
    names = {s.name for s in statuses} | {"*"}

    def check_names(value: Any, entry: str) -> list[str]:
        out = _names(value, entry)
        bad = [n for n in out if n not in names]
        if bad:
            raise ModelError(f"{entry}: {', '.join(bad)} is not a status of this profile")
        return out

    transitions: dict[str, dict[str, frozenset[str]]] | None = None
    if "transitions" in raw:
        transitions = {}
        for i, t in enumerate(raw["transitions"]):
            entry = f"{where}.transitions[{i}]"
            who = frozenset(_names(t.get("who"), f"{entry}.who"))
            if who - set(ROLES):
                raise ModelError(f"{entry}.who must be among {', '.join(ROLES)}")
            for src in check_names(t["from"], f"{entry}.from"):
                for dst in check_names(t["to"], f"{entry}.to"):
                    row = transitions.setdefault(src, {})
                    row[dst] = row.get(dst, frozenset()) | who
    hints = {}
    for i, r in enumerate(raw.get("refusals", [])):
        entry = f"{where}.refusals[{i}]"
        for src in check_names(r.get("from", "*"), f"{entry}.from"):
            for dst in check_names(r.get("to", "*"), f"{entry}.to"):
                hints[(src, dst)] = str(r["message"])
    credit = str(raw.get("credit_note", "credited"))
    if credit not in ("credited", "canceled", "refunded"):
        raise ModelError(f"{where}.credit_note must be credited, canceled or refunded")
    base = DirectionProfile(tuple(statuses), transitions, hints, credit)
    rules = _responses(raw["responses"], where, base, canonical) if "responses" in raw else None
    return replace(base, responses=rules)


def _responses(
    raw: Any, where: str, prof: DirectionProfile, canonical: set[str]
) -> dict[str, ResponseRule]:
    if not isinstance(raw, list):
        raise ModelError(f"{where}.responses must be a list of tables")
    out: dict[str, ResponseRule] = {}
    for i, r in enumerate(raw):
        entry = f"{where}.responses[{i}]"
        if r.get("code") not in RESPONSE_CODES:
            raise ModelError(f"{entry}.code must be one of {', '.join(RESPONSE_CODES)}")
        for name in _names(r.get("status"), f"{entry}.status"):
            target = prof.target_of(name) or (name if name in canonical else None)
            if target is None:
                raise ModelError(
                    f"{entry}: {name} is neither a status of this profile nor canonical"
                )
            out[target] = ResponseRule(str(r["code"]), r.get("reason"), r.get("text"))
    return out


def parse_profile(raw: dict[str, Any], where: str, models: Models) -> Profile:
    if not isinstance(raw.get("id"), str):
        raise ModelError(f"{where}: a profile needs an id")
    canon = {
        d: {s for m in models.by_key.values() if m.direction == d for s in m.statuses}
        for d in DIRECTIONS
    }
    return Profile(
        id=raw["id"],
        title=str(raw.get("title", raw["id"])),
        inbound=_direction(raw.get("inbound", {}), f"{where}: inbound", canon["inbound"]),
        outbound=_direction(raw.get("outbound", {}), f"{where}: outbound", canon["outbound"]),
        source=where,
    )


def load_profiles(models: Models, user_dir: str | Path | None = None) -> dict[str, Profile]:
    """The shipped profiles plus the user's (a user file with a shipped id replaces it)."""
    folders = [SHIPPED_DIR] + ([Path(user_dir)] if user_dir else [])
    out: dict[str, Profile] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ModelError(f"profiles folder not found: {folder}")
        for path in sorted(folder.glob("*.toml")):
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ModelError(f"{path} is not valid TOML: {exc}") from exc
            profile = parse_profile(raw, str(path), models)
            out[profile.id] = profile
    if DEFAULT not in out:
        out[DEFAULT] = Profile(
            DEFAULT, "Canonical statuses", DirectionProfile(), DirectionProfile()
        )
    return out
