"""The validation engine: KoSIT-style pipeline over official XSD and Schematron artefacts.

Layout (the face below is all other packages may import):
- :mod:`.engine` runs the named steps of :mod:`.steps` in one loop that times each;
  :mod:`.scenarios` are data, :mod:`.report` is the result;
- :mod:`.schema` (libxml2 / xmlschema) and :mod:`.schematron` (a small protocol; :mod:`.saxon`
  is the one module that imports saxonche) are the rule layers;
- :mod:`.speedups`: the exact stylesheet and document speed-ups, apart from the core;
- :mod:`.ahead`: a one-shot validation (``gateway validate FILE``) runs its XSD and later
  Schematron layers in a forked child beside the first layer;
- :mod:`.pool`: worker processes and the async :class:`Validator` in front of them.

Public surface:
- :class:`Validator` - async/sync facade over worker processes; what channels use
  (:class:`Bounds`: its per-document limits).
- :class:`Engine` - one in-process pipeline (parse, identify, select, schema, schematron,
  report, acceptance).
- :class:`ValidationReport`, :class:`Finding` - the report.
- :func:`load_scenarios` - the scenarios from ``validation-rules/scenarios.toml``.
- :class:`SaxonRuntime`, :func:`saxon_thread` - the process's one Saxon processor (plain
  stylesheets for renderings) and the one thread that may touch it.
"""

from typing import TYPE_CHECKING, Any

from gateway.validation.engine import ArtefactsMissing, Engine, UnknownScenario
from gateway.validation.report import Finding, ValidationReport
from gateway.validation.saxon import SaxonRuntime
from gateway.validation.scenarios import Scenario, load_scenarios

if TYPE_CHECKING:
    from gateway.validation.pool import Bounds, Validator, saxon_thread


def __getattr__(name: str) -> Any:
    """The worker pool on first use: a one-shot ``gateway validate FILE`` validates in its own
    process and spent ~60 ms importing asyncio, multiprocessing and concurrent.futures for it."""
    if name in ("Bounds", "Validator", "saxon_thread"):
        from gateway.validation import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ArtefactsMissing",
    "Bounds",
    "Engine",
    "Finding",
    "SaxonRuntime",
    "Scenario",
    "UnknownScenario",
    "ValidationReport",
    "Validator",
    "load_scenarios",
    "saxon_thread",
]
