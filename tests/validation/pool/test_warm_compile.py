"""Which scenarios a worker compiles when it starts (``[validation] warm``): by default none,
so a worker holds only the rules its documents use; listed ones up front; ``["*"]`` all."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.documents import ParseLimits
from gateway.validation import UnknownScenario, Validator
from gateway.validation.pool.process import make_engine
from tests.validation import payloads


def _compiled(engine) -> set[str]:  # type: ignore[no-untyped-def]
    return set(engine.rules._xslts)


def test_listed_scenarios_are_compiled_at_start_and_others_on_first_use(
    installed_data_dir: Path,
) -> None:
    artefacts = str(installed_data_dir / "artefacts")
    engine = make_engine(artefacts, ParseLimits(), ["peppol-bis3-invoice"])
    layers = {layer.file for layer in engine.scenario("peppol-bis3-invoice").schematron}
    assert _compiled(engine) == layers
    engine.validate(payloads.xrechnung_lines(2))
    assert _compiled(engine) > layers, "the XRechnung rules were compiled on their first use"
    assert not _compiled(make_engine(artefacts, ParseLimits(), False))
    assert len(_compiled(make_engine(artefacts, ParseLimits(), True))) > 10


def test_the_setting_reaches_the_validator(installed_data_dir: Path) -> None:
    settings = Settings(data_dir=installed_data_dir)
    assert settings.validation.warm == []
    settings.validation.jobs = 0
    for warm, expected in (([], []), (["*"], True), (["en16931-cii"], ["en16931-cii"])):
        settings.validation.warm = warm
        validator = Validator.from_settings(settings)
        try:
            assert validator.warm == expected
        finally:
            validator.close()
    with pytest.raises(UnknownScenario):
        Validator(installed_data_dir / "artefacts", jobs=0, warm=["no-such-scenario"])
