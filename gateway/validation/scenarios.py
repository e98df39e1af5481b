"""Scenarios as data: load ``validation-rules/scenarios.toml`` and select one for a document.

Selection follows KoSIT: the root element and the exact CustomizationID (whitespace-trimmed, as
the rules themselves normalise it), optionally the ProfileID; the first match wins. A scenario
with a ``container`` (``pdf``: the XML inside a Factur-X PDF) is chosen only for documents that
came in one, and before the others there.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gateway.documents import DocumentInfo
from gateway.resources import data_folder
from gateway.validation.report import SEVERITIES

#: The scenario argument that asks for the KoSIT configuration's own selection (``WithKosit``).
USE_KOSIT = "kosit"


@dataclass(frozen=True)
class Layer:
    source: str
    file: str


@dataclass(frozen=True)
class Scenario:
    id: str
    name: str
    root: str
    customization_id: tuple[str, ...]
    schema: str
    schematron: tuple[Layer, ...]
    profile_id: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    container: str | None = None
    #: Compiled when a worker starts (else on first use; ``warm = false`` in the TOML).
    warm: bool = True

    def matches(self, info: DocumentInfo) -> bool:
        if f"{{{info.root_namespace}}}{info.root_name}" != self.root:
            return False
        if (info.customization_id or "") not in self.customization_id:
            return False
        return not self.profile_id or (info.profile_id or "") in self.profile_id

    @property
    def artefact_bundles(self) -> list[str]:
        """Bundle ids (first path segment) of every artefact the scenario uses."""
        paths = [self.schema, *(layer.file for layer in self.schematron)]
        return list(dict.fromkeys(p.split("/", 1)[0] for p in paths))


class ScenarioError(ValueError):
    pass


def load_scenarios(path: Path | None = None) -> list[Scenario]:
    path = path or data_folder("validation-rules") / "scenarios.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out: list[Scenario] = []
    seen: set[str] = set()
    for item in raw.get("scenario", []):
        sid = item["id"]
        if sid in seen:
            raise ScenarioError(f"{path}: duplicate scenario id {sid!r}")
        seen.add(sid)
        severity = dict(item.get("severity", {}))
        bad = {r: s for r, s in severity.items() if s not in SEVERITIES}
        if bad:
            raise ScenarioError(f"{path}: scenario {sid}: unknown severities {bad}")
        out.append(
            Scenario(
                id=sid,
                name=item["name"],
                root=item["root"],
                customization_id=tuple(item["customization_id"]),
                profile_id=tuple(item.get("profile_id", ())),
                schema=item["schema"],
                schematron=tuple(Layer(**layer) for layer in item["schematron"]),
                severity=severity,
                container=item.get("container"),
                warm=bool(item.get("warm", True)),
            )
        )
    return out


def select(
    scenarios: list[Scenario], info: DocumentInfo, container: str | None = None
) -> Scenario | None:
    if container is not None:
        inside = (s for s in scenarios if s.container == container and s.matches(info))
        if (found := next(inside, None)) is not None:
            return found
    return next((s for s in scenarios if s.container is None and s.matches(info)), None)
