from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.validation import Engine


@pytest.fixture(scope="session")
def engine(installed_data_dir: Path) -> Engine:
    """One warm in-process engine for the whole session (compiling XSLT takes seconds)."""
    return Engine(installed_data_dir / "artefacts")


@pytest.fixture(scope="session")
def kosit_config_dir(shared_dir: Path) -> Path:
    return shared_dir / "artefacts" / "kosit-xrechnung-config"


@pytest.fixture(scope="session")
def kosit_engine(kosit_config_dir: Path) -> Any:
    """One KoSIT-mode engine on the XRechnung configuration for the whole session."""
    from gateway.validation.kosit import KositEngine

    return KositEngine(kosit_config_dir)


@pytest.fixture(scope="session")
def cen_unit_reports(engine: Engine) -> list[tuple[str, Any, Any, Any]]:
    """The 1,131 CEN unit test documents, each validated once with its EN 16931 scenario:
    (case name, the test's ``assert`` element, the document element, our report). Shared by
    the CEN test and the KoSIT parity test, so the corpus is validated once per session."""
    from lxml import etree

    from tests.conftest import CORPUS

    vefa = "{http://difi.no/xsd/vefa/validator/1.0}"
    out = []
    for path in sorted((CORPUS / "en16931-unit").rglob("*.xml")):
        for i, test in enumerate(etree.parse(str(path)).getroot().iter(f"{vefa}test")):
            docs = [c for c in test if isinstance(c.tag, str) and not c.tag.startswith(vefa)]
            assert len(docs) == 1, path
            doc = docs[0]
            scenario = (
                "en16931-ubl-creditnote"
                if etree.QName(doc).localname == "CreditNote"
                else "en16931-ubl-invoice"
            )
            report = engine.validate(etree.tostring(doc), scenario)
            out.append((f"{path.name}#{i}", test.find(f"{vefa}assert"), doc, report))
    return out
