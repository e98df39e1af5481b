"""Every bad-input class is a result with a stable status, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.documents import ParseLimits, TooLarge, parse_xml
from gateway.validation import Engine, UnknownScenario
from tests.conftest import CORPUS

BASE = (CORPUS / "peppol-bis-examples" / "base-example.xml").read_bytes()


def test_not_well_formed_has_line_and_column(engine: Engine) -> None:
    report = engine.validate(b"<Invoice>\n  <a>\n</Invoice>")
    assert report.status == "not-well-formed" and not report.accepted
    f = report.findings[0]
    assert f.rule == "not-well-formed" and f.line == 3 and f.column is not None


def test_truncated_real_invoice(engine: Engine) -> None:
    report = engine.validate(BASE[: len(BASE) // 2])
    assert report.status == "not-well-formed"


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE Invoice><Invoice/>',
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><a>&x;</a>',
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>',
        b"<a>&undefined;</a>",
    ],
    ids=["doctype", "xxe-file", "xxe-network", "billion-laughs", "undeclared-entity"],
)
def test_forbidden_constructs(engine: Engine, data: bytes) -> None:
    report = engine.validate(data)
    assert report.status == "forbidden-construct"
    assert "passwd" not in str(report.to_dict()) or "root:" not in str(report.to_dict())


def test_too_large_bytes(installed_data_dir: Path) -> None:
    small = Engine(installed_data_dir / "artefacts", limits=ParseLimits(max_bytes=1000))
    report = small.validate(BASE)
    assert report.status == "too-large" and "1000" in (report.reason or "")


def test_too_deep(engine: Engine) -> None:
    report = engine.validate(b"<a>" * 250 + b"</a>" * 250)
    assert report.status == "too-large" and "nesting" in (report.reason or "")


@pytest.mark.parametrize("limit", [1, 5, 64])
def test_the_depth_limit_is_exact(limit: int) -> None:
    """``max_depth`` levels of elements pass; one more is refused, wherever it is."""

    def nested(levels: int) -> bytes:
        inner = b"<x/>"
        for _ in range(levels - 1):
            inner = b"<x>" + inner + b"</x>"
        return inner

    limits = ParseLimits(max_depth=limit)
    assert parse_xml(nested(limit), limits) is not None
    with pytest.raises(TooLarge):
        parse_xml(nested(limit + 1), limits)
    # the deep branch after a shallow sibling, and with text and comments on the way
    deep = nested(limit + 1).replace(b"<x>", b"<x>t<!--c-->", 1)
    with pytest.raises(TooLarge):
        parse_xml(b"<r><y/>" + deep + b"</r>", ParseLimits(max_depth=limit + 1))
    assert parse_xml(b"<r><y/>" + nested(limit) + b"</r>", ParseLimits(max_depth=limit + 1))


def test_no_scenario_says_what_was_recognised(engine: Engine) -> None:
    report = engine.validate(
        BASE.replace(
            b"poacc:billing:3.0</cbc:CustomizationID>", b"poacc:billing:9.9</cbc:CustomizationID>"
        )
    )
    assert report.status == "no-scenario"
    assert report.document and report.document["doc_type"] == "Invoice"
    assert "billing:9.9" in (report.reason or "")
    other = engine.validate(b"<Order xmlns='urn:example'/>")
    assert other.status == "no-scenario" and "urn:example" in (other.reason or "")


def test_empty_input(engine: Engine) -> None:
    assert engine.validate(b"").status == "not-well-formed"
    assert engine.validate(b"   \n").status == "not-well-formed"


def test_forced_scenario(engine: Engine) -> None:
    report = engine.validate(BASE, "en16931-ubl-invoice")
    assert report.scenario == "en16931-ubl-invoice" and report.accepted
    with pytest.raises(UnknownScenario):
        engine.validate(BASE, "no-such-scenario")
