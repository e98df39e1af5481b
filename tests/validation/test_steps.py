"""The engine is a list of named steps run in one loop that times each (KoSIT's shape)."""

from __future__ import annotations

from gateway.validation import Engine
from tests.conftest import CORPUS

XR_UBL = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"
STEPS = ["parse", "identify", "select", "schema", "schematron", "report", "acceptance"]


def test_the_pipeline_is_the_named_steps_in_order(engine: Engine) -> None:
    assert [step.name for step in engine.steps] == STEPS


def test_every_step_is_timed_and_schematron_per_layer(engine: Engine) -> None:
    report = engine.validate(XR_UBL.read_bytes())
    assert report.accepted, report.findings
    timed = list(report.timings)
    # schematron splits its time into the Saxon parse and one lap per layer
    expected = [
        "parse",
        "identify",
        "select",
        "schema",
        "schematron-parse",
        "schematron-en16931",
        "schematron-xrechnung",
        "report",
        "acceptance",
        "total",
    ]
    assert timed == expected
    assert all(v >= 0 for v in report.timings.values())
    parts = sum(v for k, v in report.timings.items() if k != "total")
    assert parts <= report.timings["total"] + 0.01


def test_a_refusal_ends_the_run_at_parse(engine: Engine) -> None:
    report = engine.validate(b"<Invoice><unclosed></Invoice>")
    assert report.status == "not-well-formed"
    assert report.findings[0].source == "parser"
    assert report.scenario is None


def test_no_scenario_ends_the_run_at_select(engine: Engine) -> None:
    report = engine.validate(b"<note xmlns='urn:example'>hello</note>")
    assert report.status == "no-scenario"
    assert list(report.timings) == ["parse", "identify", "select", "total"]
    assert "not a supported e-invoice syntax" in (report.reason or "")
