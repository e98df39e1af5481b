"""Duplicate rules: which business key a document claims, chosen by its scenario (as data).

The SPI is one method, :meth:`DuplicateRules.key_for` (identification's facts + the scenario
-> the business key, or None); the shipped implementation reads ``config/duplicate-rules.toml``
so a national rule (France's DOUBLON: number + year + seller SIREN) is a table entry, not code.
The record builder (:mod:`gateway.inbound.intake`) calls it for inbound and outbound documents
alike, so both duplicate guards use the same key.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gateway.documents import siren_of
from gateway.resources import data_folder

RULES_FILE = "duplicate-rules.toml"


def _fact(info: dict[str, Any], name: str) -> str | None:
    role, _, part = name.partition(".")
    if role in ("seller", "buyer"):
        party = info.get(role) or {}
        if part == "siren":
            return siren_of(party)
        return next(
            (
                party[k]
                for k in ("endpoint", "vat_id", "legal_id", "party_id", "name")
                if party.get(k)
            ),
            None,
        )
    if name == "issue_year":
        return (info.get("issue_date") or "")[:4] or None
    value = info.get(name)
    return str(value) if value else None


FACTS = frozenset(
    {"kind", "number", "issue_date", "issue_year", "currency", "payable_amount"}
    | {f"{r}{p}" for r in ("seller", "buyer") for p in ("", ".siren")}
)


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    scenarios: tuple[str, ...]
    key: tuple[str, ...]

    def applies(self, scenario: str | None) -> bool:
        return bool(scenario) and any(fnmatch.fnmatchcase(scenario, p) for p in self.scenarios)

    def key_for(self, info: dict[str, Any]) -> str | None:
        facts = [_fact(info, name) for name in self.key]
        if not all(facts):
            return None
        return "|".join([self.id, *(str(f).strip() for f in facts)])


@dataclass(frozen=True)
class DuplicateRules:
    rules: tuple[Rule, ...]

    def rule_for(self, scenario: str | None) -> Rule | None:
        return next((r for r in self.rules if r.applies(scenario)), None)

    def key_for(self, info: dict[str, Any], scenario: str | None) -> str | None:
        rule = self.rule_for(scenario)
        return rule.key_for(info) if rule is not None else info.get("business_key")


def parse_rules(raw: dict[str, Any], where: str = "duplicate rules") -> DuplicateRules:
    rules = []
    for item in raw.get("rule", []):
        unknown = sorted(set(item.get("key", [])) - FACTS)
        if unknown or not item.get("key") or not item.get("scenarios"):
            raise ValueError(
                f"{where}: rule {item.get('id')!r}: needs scenarios and a key of {sorted(FACTS)}; unknown {unknown}"
            )
        rules.append(
            Rule(
                item["id"],
                item.get("label", item["id"]),
                tuple(item["scenarios"]),
                tuple(item["key"]),
            )
        )
    return DuplicateRules(tuple(rules))


@cache
def load_rules(path: Path | None = None) -> DuplicateRules:
    source = path or data_folder("config") / RULES_FILE
    return parse_rules(tomllib.loads(source.read_text(encoding="utf-8")), str(source))
