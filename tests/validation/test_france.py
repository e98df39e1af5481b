"""France's e-invoicing reform (CTC 1.4.0.03): CDAR lifecycle messages and French invoices.

The CDAR examples are the official ones (``corpus/france-cdar``). French invoices are built
from the CEN examples by giving them a French business process type (BT-23) or the
EXTENDED-CTC-FR CustomizationID; the CEN examples are Belgian-style invoices, so the French
layer must find what a French invoice lacks (SIREN, French VAT rates, mandatory notes) and, for
a multi-vendor process type, the multi-vendor rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.documents import identify, parse_xml
from gateway.validation import Engine
from tests.french_invoices import french_invoice

CDAR_DIR = "france-cdar"
EXTENDED = "urn:cen.eu:en16931:2017#conformant#urn.cpro.gouv.fr:1p0:extended-ctc-fr"


def _cdar_files(corpus: Path) -> list[Path]:
    files = sorted((corpus / CDAR_DIR).glob("*.xml"))
    assert len(files) == 11
    return files


def test_every_official_cdar_example_is_valid(engine: Engine, corpus_dir: Path) -> None:
    for path in _cdar_files(corpus_dir):
        report = engine.validate(path.read_bytes())
        assert report.scenario == "fr-cdar-lifecycle", path.name
        assert report.accepted, (path.name, [f.to_dict() for f in report.findings if f.blocking])
        assert {"schema", "schematron-fr-cdv"} <= set(report.timings)


def test_cdar_identification_names_status_and_invoice(corpus_dir: Path) -> None:
    for path in _cdar_files(corpus_dir):
        # UC1_F202500003_05-CDV-205_Approuvee.xml: invoice F202500003, status 205
        invoice, code = re.match(r"UC\d_(F\d+)_\d+-CDV-(\d{3})_", path.name).groups()
        info = identify(parse_xml(path.read_bytes()))
        assert info.syntax == "cdar" and info.customization_id.startswith("urn.cpro.gouv.fr")
        assert [(r["document_id"], r["response_code"]) for r in info.responses] == [(invoice, code)]
        assert re.fullmatch(r"2025-\d\d-\d\d", info.responses[0]["issue_date"])  # 102 -> ISO


def test_cashed_status_without_amount_is_refused(engine: Engine, corpus_dir: Path) -> None:
    """212 Encaissée must carry the amount cashed (XP Z12-012: amount and VAT rate required)."""
    raw = (corpus_dir / CDAR_DIR / "UC1_F202500003_07-CDV-212_Encaissee.xml").read_bytes()
    assert engine.validate(raw).accepted
    broken = re.sub(rb"<ram:ValueAmount[^>]*>[^<]*</ram:ValueAmount>", b"", raw)
    assert broken != raw
    report = engine.validate(broken)
    assert not report.accepted
    blocking = {f.rule for f in report.findings if f.blocking}
    assert blocking and all(f.source == "fr-cdv" for f in report.findings if f.blocking)


def _french(raw: bytes, *, profile: str | None = "S1", customization: str | None = None) -> bytes:
    if customization:
        raw = re.sub(
            rb"<cbc:CustomizationID>[^<]*</cbc:CustomizationID>",
            f"<cbc:CustomizationID>{customization}</cbc:CustomizationID>".encode(),
            raw,
            count=1,
        )
    if profile and b"<rsm:" in raw:
        return raw.replace(
            b"<rsm:ExchangedDocumentContext>",
            b"<rsm:ExchangedDocumentContext><ram:BusinessProcessSpecifiedDocumentContextParameter>"
            + f"<ram:ID>{profile}</ram:ID>".encode()
            + b"</ram:BusinessProcessSpecifiedDocumentContextParameter>",
            1,
        )
    if profile and b"<cbc:ProfileID>" in raw:
        return re.sub(
            rb"<cbc:ProfileID>[^<]*</cbc:ProfileID>",
            f"<cbc:ProfileID>{profile}</cbc:ProfileID>".encode(),
            raw,
            count=1,
        )
    if profile:
        return raw.replace(
            b"</cbc:CustomizationID>",
            f"</cbc:CustomizationID><cbc:ProfileID>{profile}</cbc:ProfileID>".encode(),
            1,
        )
    return raw


CASES = [
    ("ubl/ubl-tc434-example1.xml", {}, "fr-ctc-ubl-invoice", "fr-ctc"),
    ("ubl/ubl-tc434-creditnote1.xml", {}, "fr-ctc-ubl-creditnote", "fr-ctc"),
    ("cii/CII_example1.xml", {}, "fr-ctc-cii", "fr-ctc"),
    (
        "ubl/ubl-tc434-example1.xml",
        {"profile": None, "customization": EXTENDED},
        "fr-extended-ctc-ubl-invoice",
        "fr-extended-ctc",
    ),
]


@pytest.mark.parametrize(("rel", "how", "scenario", "first_layer"), CASES)
def test_french_invoices_get_the_french_rules(
    engine: Engine, corpus_dir: Path, rel: str, how: dict, scenario: str, first_layer: str
) -> None:
    raw = (corpus_dir / "en16931-examples" / rel).read_bytes()
    plain = engine.validate(raw)
    assert plain.scenario.startswith("en16931-") and plain.accepted
    report = engine.validate(_french(raw, **how))
    assert report.scenario == scenario
    assert f"schematron-{first_layer}" in report.timings and "schematron-fr-ctc" in report.timings
    french = {f.rule for f in report.findings if f.source == "fr-ctc"}
    # Not French enough: no SIREN for the seller (BT-30), VAT rates France does not have.
    assert "BR-FR-10_BT-30" in french, sorted(french)
    assert not report.accepted


def test_multi_vendor_process_type_adds_the_multi_vendor_rules(
    engine: Engine, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "en16931-examples/ubl/ubl-tc434-example1.xml").read_bytes()
    single = {f.rule for f in engine.validate(_french(raw, profile="S1")).findings}
    multi = {f.rule for f in engine.validate(_french(raw, profile="S8")).findings}
    added = multi - single
    # S8: every line needs a sub-type and a GROUP line must exist (BR-FR-MV-01, -02).
    assert {"BR-FR-MV-01_EXT-FR-FE-163", "BR-FR-MV-02_EXT-FR-FE-163"} <= added, sorted(added)


def test_an_unknown_process_type_is_plain_en16931(engine: Engine, corpus_dir: Path) -> None:
    raw = (corpus_dir / "en16931-examples/ubl/ubl-tc434-example1.xml").read_bytes()
    assert engine.validate(_french(raw, profile="Z9")).scenario == "en16931-ubl-invoice"


@pytest.mark.parametrize(
    ("syntax", "scenario"), [("ubl", "fr-ctc-ubl-invoice"), ("cii", "fr-ctc-cii")]
)
def test_a_french_invoice_built_from_the_corpus_is_valid(
    engine: Engine, corpus_dir: Path, syntax: str, scenario: str
) -> None:
    """CEN example 9 made French (tests/french_invoices.py): EN 16931 and BR-FR-Flux2 find
    nothing at all, so the French scenarios can say "valid"."""
    report = engine.validate(french_invoice(corpus_dir, syntax))
    assert report.scenario == scenario
    assert {"schematron-en16931", "schematron-fr-ctc"} <= set(report.timings)
    assert report.accepted and report.findings == [], [f.to_dict() for f in report.findings]


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
@pytest.mark.parametrize(
    ("how", "rule"),
    [
        ({"rate": "21"}, "BR-FR-16_BT-152"),  # a Dutch VAT rate
        ({"seller_siren": "73282932"}, "BR-FR-10_BT-30"),  # 8 digits
    ],
)
def test_a_french_invoice_with_one_fault_is_refused_by_the_french_rule(
    engine: Engine, corpus_dir: Path, syntax: str, how: dict, rule: str
) -> None:
    report = engine.validate(french_invoice(corpus_dir, syntax, **how))
    blocking = {f.rule for f in report.findings if f.blocking}
    assert not report.accepted and rule in blocking, sorted(blocking)
    assert {f.source for f in report.findings if f.blocking} == {"fr-ctc"}
