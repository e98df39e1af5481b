"""The French codes table (gateway/france/codes.toml) against the official examples, the
canonical status model, the Peppol Invoice Response mapping and the france-cdar profile."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gateway.france import CodesError, load_codes, parse_cdar
from gateway.france.codes import CODES_FILE, parse_codes
from gateway.lifecycle import COUNTERPART, Lifecycle
from gateway.responses import load_mapping


def test_labels_and_status_codes_are_those_of_the_official_examples(corpus_dir: Path) -> None:
    codes = load_codes()
    for path in sorted((corpus_dir / "france-cdar").glob("*.xml")):
        raw = path.read_bytes()
        msg = parse_cdar(raw)
        code = codes.get(msg.code)
        assert code is not None, path.name
        label = re.search(rb"<ram:ProcessCondition>([^<]*)<", raw).group(1).decode()
        assert label.replace("_", " ") == code.label, path.name  # UC4 writes "En_litige"
        assert (msg.type_code, msg.status_code) == (code.type_code, code.status_code), path.name


def test_every_sales_status_is_one_the_counterpart_may_set_and_t111_codes_exist() -> None:
    codes, model = load_codes(), Lifecycle().model("outbound", "Invoice")
    counterpart_targets = {
        to
        for moves in model.transitions.values()
        for to, who in moves.items()
        if COUNTERPART in who
    }
    t111 = load_mapping().codes
    for code in codes.codes.values():
        if code.sales:
            assert code.sales in counterpart_targets, code.code
        if code.t111:
            assert code.t111 in t111, code.code
    # Both ways: every Peppol response code a French status stands for maps back to a code.
    assert [c.code for c in codes.for_t111("AP")] == ["205"]
    assert [c.code for c in codes.for_t111("UQ")] == ["207", "208"]
    assert {c.t111 for c in codes.codes.values() if c.t111} == {
        "AB",
        "IP",
        "AP",
        "CA",
        "UQ",
        "RE",
        "PD",
    }


def test_the_mandatory_codes_are_those_of_the_spec() -> None:
    # XP Z12-014 1.1: Submitted, Rejected, Refused, and Payment received (when VAT is due).
    assert {c.code for c in load_codes().codes.values() if c.mandatory} == {
        "200",
        "210",
        "212",
        "213",
    }


def test_the_french_profile_names_the_canonical_statuses_with_codes() -> None:
    profile = Lifecycle().profiles["france-cdar"]
    out, inbound = profile.direction("outbound"), profile.direction("inbound")
    codes = load_codes()
    for code in codes.codes.values():
        if code.sales and code.code != "208":  # 208 shares under_query with 207
            assert out.name_of(code.sales) == code.name
    assert inbound.name_of("duplicate") == "213 Rejetée (DOUBLON)"
    assert inbound.name_of("rejected") == codes.get(codes.emit["rejected"]).name


def test_a_broken_table_is_refused_with_the_entry_named() -> None:
    raw = tomllib.loads(CODES_FILE.read_text(encoding="utf-8"))
    raw["emit"]["approved"] = "299"
    with pytest.raises(CodesError, match="299"):
        parse_codes(raw)
