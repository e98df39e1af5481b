"""CEN EN 16931 unit tests (VEFA testSet format): every asserted outcome must agree."""

from __future__ import annotations

from lxml import etree

from gateway.validation import Engine
from tests.conftest import CORPUS

VEFA = "{http://difi.no/xsd/vefa/validator/1.0}"


def _cases() -> list[tuple[str, int, etree._Element, etree._Element]]:
    out = []
    for path in sorted((CORPUS / "en16931-unit").rglob("*.xml")):
        for i, test in enumerate(etree.parse(str(path)).getroot().iter(f"{VEFA}test")):
            docs = [c for c in test if isinstance(c.tag, str) and not c.tag.startswith(VEFA)]
            assert len(docs) == 1, path
            out.append((path.name, i, test.find(f"{VEFA}assert"), docs[0]))
    return out


def test_cen_unit_tests_agree(engine: Engine) -> None:
    cases = _cases()
    assert len(cases) == 1131
    disagreements = []
    for name, i, assertion, doc in cases:
        scenario = (
            "en16931-ubl-creditnote"
            if etree.QName(doc).localname == "CreditNote"
            else "en16931-ubl-invoice"
        )
        report = engine.validate(etree.tostring(doc), scenario)
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
                disagreements.append(f"{name}#{i}: expected {kind} {rule}, fired {sorted(fired)}")
    assert not disagreements, "\n".join(disagreements[:20])
