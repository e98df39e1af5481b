"""KoSIT mode with KoSIT's own XRechnung configuration from ../shared: the suite is accepted,
the reports are valid VARL, and the verdicts agree with the gateway's own scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from gateway.validation import Engine
from gateway.validation.kosit.varl import html_explanation, recommendation
from tests.conftest import CORPUS, SHARED

SUITE = sorted((CORPUS / "xrechnung-testsuite").rglob("*.xml"))
KOSIT_XSD = SHARED / "artefacts" / "kosit-validator-1.6"
REPORT_XSD = SHARED / "artefacts" / "kosit-xrechnung-config" / "resources" / "xsd" / "report.xsd"
REP = "{http://www.xoev.de/de/validator/varl/1}"


def _schema(*imports: tuple[str, Path]) -> etree.XMLSchema:
    """A schema importing the given (namespace, file) pairs: report.xsd imports the scenarios
    namespace without a location, so the scenarios schema is put beside it here."""
    xs = "http://www.w3.org/2001/XMLSchema"
    root = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})
    for namespace, path in imports:
        etree.SubElement(root, f"{{{xs}}}import", namespace=namespace, schemaLocation=path.as_uri())
    return etree.XMLSchema(root)


@pytest.fixture(scope="module")
def report_schema() -> etree.XMLSchema:
    return _schema(
        ("http://www.xoev.de/de/validator/framework/1/scenarios", KOSIT_XSD / "scenarios.xsd"),
        ("http://www.xoev.de/de/validator/varl/1", REPORT_XSD),
    )


@pytest.fixture(scope="module")
def input_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(KOSIT_XSD / "createReportInput.xsd")))


@pytest.fixture(scope="module")
def suite_reports(kosit_engine: Any) -> dict[str, Any]:
    """Each suite file through KoSIT mode, with the createReportInput it made."""
    inputs: list[str] = []
    kosit = kosit_engine.kosit
    original = kosit.run_report

    def capture(rel: str, doc: Any, document: object) -> str:
        inputs.append(doc.text())
        return original(rel, doc, document)

    kosit.run_report = capture
    try:
        out = {}
        for path in SUITE:
            report = kosit_engine.validate(path.read_bytes(), name=path.name)
            out[path.name + path.parent.name] = (path, report, inputs[-1])
        return out
    finally:
        del kosit.run_report


def test_every_suite_file_is_accepted_with_a_valid_report(
    suite_reports: dict[str, Any], report_schema: etree.XMLSchema, input_schema: etree.XMLSchema
) -> None:
    assert len(suite_reports) == len(SUITE) == 86
    problems = []
    for path, report, report_input in suite_reports.values():
        if report.status != "accepted":
            problems.append(f"{path.name}: {report.status} {report.reason}")
        varl = etree.fromstring(report.kosit_report.encode())
        if not report_schema.validate(varl):
            problems.append(f"{path.name}: report invalid: {report_schema.error_log.last_error}")
        if not input_schema.validate(etree.fromstring(report_input.encode())):
            problems.append(f"{path.name}: input invalid: {input_schema.error_log.last_error}")
        if recommendation(report.kosit_report) != "accept":
            problems.append(f"{path.name}: report recommends {recommendation(report.kosit_report)}")
        ident = varl.find(f"{REP}documentIdentification/{REP}documentReference")
        if ident is None or ident.text != path.name:
            problems.append(f"{path.name}: document reference {ident}")
    assert not problems, "\n".join(problems[:10])


def test_report_carries_the_matched_scenario_and_each_step(suite_reports: dict[str, Any]) -> None:
    _, report, report_input = next(
        v for v in suite_reports.values() if v[0].name == "01.01a-INVOICE_ubl.xml"
    )
    varl = etree.fromstring(report.kosit_report.encode())
    matched = varl.find(f"{REP}scenarioMatched")
    assert matched is not None
    name = matched.findtext(
        "{http://www.xoev.de/de/validator/framework/1/scenarios}scenario/"
        "{http://www.xoev.de/de/validator/framework/1/scenarios}name"
    )
    assert name == "EN16931 XRechnung (UBL Invoice)" == report.scenario_name
    steps = [s.get("id") for s in matched.iter(f"{REP}validationStepResult")]
    assert steps == ["val-xsd", "val-sch.1", "val-sch.2", "val-xml"]
    assert (
        "Es wird empfohlen das Dokument anzunehmen"
        in " ".join(etree.fromstring(report.kosit_report.encode()).itertext())
        or "anzunehmen" in report.kosit_report
    )
    assert html_explanation(report.kosit_report).startswith("<!DOCTYPE html>")
    # createReportInput: the document's hash, the scenario, the SVRL of both layers
    doc = etree.fromstring(report_input.encode())
    assert doc.get("frameworkVersion") == "1.0.2"
    assert len(doc.findall("{*}validationResultsSchematron")) == 2


def test_suite_verdicts_equal_own_scenarios(suite_reports: dict[str, Any], engine: Engine) -> None:
    differ = []
    for path, report, _ in suite_reports.values():
        own = engine.validate(path.read_bytes())
        if own.accepted != report.accepted:
            differ.append(f"{path.name}: own {own.status}, KoSIT {report.status}")
        # same custom levels: the same findings with the same severities
        mine = sorted((f.rule, f.severity) for f in own.findings)
        theirs = sorted((f.rule, f.severity) for f in report.findings)
        if mine != theirs:
            differ.append(f"{path.name}: findings differ {set(mine) ^ set(theirs)}")
    assert not differ, "\n".join(differ[:10])


@pytest.mark.slow  # every CEN unit test in both engines: ~22 s quiet (make test-slow, CI)
def test_cen_unit_verdicts_equal_own_scenarios(
    kosit_engine: Any, cen_unit_reports: list[tuple[str, Any, Any, Any]]
) -> None:
    """The CEN unit tests, each forced to the EN 16931 scenario of its kind on both sides (the
    documents carry all kinds of CustomizationIDs): same verdict, same rules fired."""
    ids = {k.scenario.name: k.scenario.id for k in kosit_engine.config.scenarios}
    kosit_for = {
        "Invoice": ids["EN16931 (UBL Invoice)"],
        "CreditNote": ids["EN16931 (UBL CreditNote)"],
    }
    assert len(cen_unit_reports) == 1131
    differ = []
    for name, _, doc, own in cen_unit_reports:
        kind = etree.QName(doc).localname
        theirs = kosit_engine.validate(etree.tostring(doc), kosit_for[kind], name)
        if own.accepted != theirs.accepted:
            differ.append(f"{name}: own {own.status}, KoSIT {theirs.status}")
        elif own.accepted and {f.rule for f in own.findings} != {f.rule for f in theirs.findings}:
            differ.append(f"{name}: fired rules differ")
    assert not differ, "\n".join(differ[:10])


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"<note xmlns='urn:example'>hello</note>", "no-scenario"),
        (b"<Invoice><unclosed></Invoice>", "not-well-formed"),
        (b"%PDF-1.7 not XML at all", "not-well-formed"),
        (b"", "not-well-formed"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "forbidden-construct"),
    ],
)
def test_no_scenario_inputs_get_the_no_scenario_report(
    kosit_engine: Any, report_schema: etree.XMLSchema, data: bytes, status: str
) -> None:
    report = kosit_engine.validate(data, name="input.xml")
    assert report.status == status and not report.accepted
    varl = etree.fromstring(report.kosit_report.encode())
    assert varl.find(f"{REP}noScenarioMatched") is not None
    assert varl.find(f"{REP}scenarioMatched") is None
    assert recommendation(report.kosit_report) == "reject"
    assert report_schema.validate(varl), report_schema.error_log.last_error
