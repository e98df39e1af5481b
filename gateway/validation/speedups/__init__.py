"""Exact speed-ups of the rule layers, kept apart from the pipeline they speed up.

None of these changes a finding; each module says in its docstring why it is exact, and
``tests/validation/speedups`` compares findings with and without it over the corpus.

- :mod:`.optimize` rewrites a Schematron stylesheet in memory before it is compiled;
- :mod:`.native` and :mod:`.absent` answer some patterns on the lxml tree instead of in Saxon;
- :mod:`.reads` works out which elements' text any rule of a stylesheet can read, and
  :mod:`.standin` hands Saxon (and libxml2) short stand-ins for large texts nobody reads;
- :mod:`.base64_values` checks ``xs:base64Binary`` values exactly, which libxml2 does not;
- :mod:`.keyed_paths` (line-level rules reading the header through keys) and
  :mod:`.assert_texts` (long assert texts as markers) are two of :mod:`.optimize`'s rewrites;
- :mod:`.locations` computes skeleton locations and finds their lines in linear time;
- :mod:`.cache` keeps the prepared stylesheets and their analyses on disk between processes.

The core (:mod:`gateway.validation.schema`, :mod:`gateway.validation.saxon`,
:mod:`gateway.validation.steps`) imports only what is listed here.
"""

from gateway.validation.speedups.assert_texts import restore as restore_assert_text
from gateway.validation.speedups.base64_values import Base64Elements, bad_base64, base64_elements
from gateway.validation.speedups.cache import ANALYSES, Analyses, use_folder
from gateway.validation.speedups.locations import FullPaths, Locator, full_path
from gateway.validation.speedups.native import MARKER, NativeCheck
from gateway.validation.speedups.native import Finding as NativeFinding
from gateway.validation.speedups.optimize import SVRL, Prepared, prepared_stylesheet
from gateway.validation.speedups.reads import ANY, Reads, stylesheet_reads
from gateway.validation.speedups.standin import LargeLeaves, saxon_text

__all__ = [
    "ANALYSES",
    "ANY",
    "MARKER",
    "SVRL",
    "Analyses",
    "Base64Elements",
    "FullPaths",
    "LargeLeaves",
    "Locator",
    "NativeCheck",
    "NativeFinding",
    "Prepared",
    "Reads",
    "bad_base64",
    "base64_elements",
    "full_path",
    "prepared_stylesheet",
    "restore_assert_text",
    "saxon_text",
    "stylesheet_reads",
    "use_folder",
]
