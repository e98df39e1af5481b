"""A one-shot engine's XSD and later layers in a forked child (:mod:`gateway.validation.ahead`):
the report is the one the layers give one after the other, also when the child fails, and
nothing forks where it must not.

Forking needs a process without a Saxon processor, so each forked validation runs in a fresh
interpreter; the reference is the session's ordinary engine in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.validation import Engine, ahead
from tests.conftest import CORPUS

SUITE = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard"
XR_UBL = SUITE / "01.01a-INVOICE_ubl.xml"
XR_CII = SUITE / "01.01a-INVOICE_uncefact.xml"

SCRIPT = """
import json, os, sys
from pathlib import Path
from gateway.validation import Engine, ahead

forks = []
fork = ahead.Forked.__init__
def counted(self, work):
    forks.append(1)
    fork(self, work)
ahead.Forked.__init__ = counted
if sys.argv[3] == "crash":  # the child dies before it answers
    ahead.Ahead._child = lambda self, run, later: os._exit(3)
engine = Engine(Path(sys.argv[1]), one_shot=True, cache_dir=Path(sys.argv[4]))
report = engine.validate(Path(sys.argv[2]).read_bytes())
print(json.dumps({"forks": len(forks), "report": report.to_dict()}))
"""


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "timings"}


def _one_shot(data_dir: Path, document: Path, mode: str = "") -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(data_dir / "artefacts"),
            str(document),
            mode or "plain",
            str(data_dir / "cache" / "validation"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def broken_ubl(tmp_path: Path) -> Path:
    """Findings from all three layers: an unknown element (XSD), an unknown currency
    (EN 16931), no Leitweg-ID (XRechnung)."""
    text = XR_UBL.read_text()
    start = text.index("<cbc:BuyerReference>")
    text = text[:start] + text[text.index("</cbc:BuyerReference>", start) + 21 :]
    text = text.replace("<cbc:DocumentCurrencyCode>EUR", "<cbc:DocumentCurrencyCode>EUX")
    text = text.replace("<cbc:IssueDate>", "<cbc:Bogus>1</cbc:Bogus><cbc:IssueDate>", 1)
    path = tmp_path / "broken.xml"
    path.write_text(text)
    return path


def test_forked_layers_give_the_sequential_report(
    engine: Engine, installed_data_dir: Path, broken_ubl: Path
) -> None:
    for document in (broken_ubl, XR_CII):
        out = _one_shot(installed_data_dir, document)
        assert out["forks"] == 1
        expected = engine.validate(document.read_bytes()).to_dict()
        assert _comparable(out["report"]) == _comparable(expected)
        if document == broken_ubl:
            sources = [f["source"] for f in out["report"]["findings"]]
            assert {"xsd", "en16931", "xrechnung"} <= set(sources)
            assert sources == sorted(sources, key=["xsd", "en16931", "xrechnung"].index)
        timings = out["report"]["timings"]
        # the child's layers are timed too (their time overlaps the parent's)
        assert {"schema", "schematron-en16931", "schematron-xrechnung", "join"} <= set(timings)


def test_a_child_that_dies_is_replaced_by_the_work_done_here(
    engine: Engine, installed_data_dir: Path, broken_ubl: Path
) -> None:
    out = _one_shot(installed_data_dir, broken_ubl, "crash")
    assert out["forks"] == 1
    expected = engine.validate(broken_ubl.read_bytes()).to_dict()
    assert _comparable(out["report"]) == _comparable(expected)


def test_no_fork_once_saxon_runs_or_beside_other_threads(
    engine: Engine, installed_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: ahead.Forked, work: Any) -> None:
        raise AssertionError("forked")

    monkeypatch.setattr(ahead.Forked, "__init__", refuse)
    one_shot = Engine(installed_data_dir / "artefacts", one_shot=True)
    # this process has its Saxon processor (the session engine's)
    assert _comparable(one_shot.validate(XR_UBL.read_bytes()).to_dict()) == _comparable(
        engine.validate(XR_UBL.read_bytes()).to_dict()
    )
    step = next(s for s in one_shot.steps if isinstance(s, ahead.Ahead))
    step.forkable = lambda: True  # as if Saxon had not started: another thread still forbids it
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert one_shot.validate(XR_UBL.read_bytes()).accepted
    finally:
        stop.set()
        other.join()
