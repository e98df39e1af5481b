"""The validation engine: KoSIT-style pipeline over official XSD and Schematron artefacts.

Public surface:
- :class:`Validator` - async/sync facade over worker processes; what channels use.
- :class:`Engine` - one in-process pipeline (parse, identify, select, schema, schematron, report).
- :class:`ValidationReport`, :class:`Finding` - the report.
- :func:`load_scenarios` - the scenarios from ``validation-rules/scenarios.toml``.
- :class:`SaxonRuntime`, :func:`saxon_thread` - the process's one Saxon processor (plain
  stylesheets for renderings) and the one thread that may touch it.
"""

from gateway.validation.engine import ArtefactsMissing, Engine, UnknownScenario
from gateway.validation.layers import SaxonRuntime, XsltStylesheet
from gateway.validation.pool import Validator, saxon_thread
from gateway.validation.report import Finding, ValidationReport
from gateway.validation.scenarios import Scenario, load_scenarios

__all__ = [
    "ArtefactsMissing",
    "Engine",
    "Finding",
    "SaxonRuntime",
    "Scenario",
    "UnknownScenario",
    "ValidationReport",
    "Validator",
    "XsltStylesheet",
    "load_scenarios",
    "saxon_thread",
]
