"""The validation report: one JSON-able record per document, KoSIT-style.

Status values are stable codes callers can switch on:
``accepted`` / ``rejected`` (all layers ran), ``no-scenario`` (recognised but no rules apply),
``not-well-formed``, ``forbidden-construct``, ``too-large`` (refused before validation),
``validation-timeout`` (the document used up its deadline; see ``validation.pool.workers``);
in KoSIT mode also ``processing-error`` (a stylesheet failed; KoSIT's daemon answers 422).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

SEVERITIES = ("fatal", "error", "warning", "information")
BLOCKING = frozenset({"fatal", "error"})
_REQUIRED = frozenset({"rule", "severity", "location", "message", "source"})


@dataclass
class RawFinding:
    rule: str
    severity: str
    location: str | None
    message: str
    test: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass
class Finding:
    rule: str
    severity: str  # fatal | error | warning | information (after overrides)
    location: str | None
    message: str
    source: str  # xsd | en16931 | peppol | xrechnung | ...
    #: Severity the rule itself declared, when an override changed it.
    original_severity: str | None = None
    line: int | None = None
    column: int | None = None
    test: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING

    def to_dict(self) -> dict[str, Any]:
        """The five report fields always; optional extras only when known. (Built directly:
        ``asdict``'s recursion cost 0.1 ms per finding, and every field is a plain value.)"""
        return {
            k: v for k in _FINDING_FIELDS if (v := getattr(self, k)) is not None or k in _REQUIRED
        }


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


@dataclass
class ValidationReport:
    status: str
    scenario: str | None = None
    scenario_name: str | None = None
    findings: list[Finding] = field(default_factory=list)
    #: artefact bundle id -> version, for every artefact this scenario used.
    artefacts: dict[str, str] = field(default_factory=dict)
    #: step name -> milliseconds.
    timings: dict[str, float] = field(default_factory=dict)
    #: What identification recognised (DocumentInfo.to_dict()), when the XML could be parsed.
    document: dict[str, Any] | None = None
    #: For refusals before validation: a human-readable reason.
    reason: str | None = None
    #: Findings left out of ``findings`` by ``[validation] max_findings`` (counted, not listed).
    findings_omitted: int = 0
    #: In KoSIT mode: the VARL report (``rep:report``) the configuration's stylesheet made.
    kosit_report: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        extra = {"kosit_report": self.kosit_report} if self.kosit_report is not None else {}
        return {
            "status": self.status,
            "accepted": self.accepted,
            "scenario": self.scenario,
            "scenario_name": self.scenario_name,
            "reason": self.reason,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "findings_omitted": self.findings_omitted,
            "artefacts": self.artefacts,
            "timings": self.timings,
            "document": self.document,
            **extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        return cls(
            status=data["status"],
            scenario=data.get("scenario"),
            scenario_name=data.get("scenario_name"),
            findings=[Finding(**f) for f in data.get("findings", [])],
            artefacts=dict(data.get("artefacts", {})),
            timings=dict(data.get("timings", {})),
            document=data.get("document"),
            reason=data.get("reason"),
            findings_omitted=int(data.get("findings_omitted", 0)),
            kosit_report=data.get("kosit_report"),
        )
