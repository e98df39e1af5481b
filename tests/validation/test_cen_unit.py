"""CEN EN 16931 unit tests (VEFA testSet format): every asserted outcome must agree."""

from __future__ import annotations

from typing import Any

from lxml import etree


def test_cen_unit_tests_agree(cen_unit_reports: list[tuple[str, Any, Any, Any]]) -> None:
    assert len(cen_unit_reports) == 1131
    disagreements = []
    for name, assertion, _, report in cen_unit_reports:
        fired: dict[str, set[str]] = {}
        for f in report.findings:
            fired.setdefault(f.rule, set()).add(f.severity)
        for expect in assertion:
            kind, rule = etree.QName(expect).localname, (expect.text or "").strip()
            if kind == "success":
                ok = rule not in fired
            elif kind == "error":
                ok = bool(fired.get(rule, set()) & {"fatal", "error"})
            elif kind == "warning":
                ok = "warning" in fired.get(rule, set())
            else:
                continue
            if not ok:
                disagreements.append(f"{name}: expected {kind} {rule}, fired {sorted(fired)}")
    assert not disagreements, "\n".join(disagreements[:20])
