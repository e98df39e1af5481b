"""Semantics-preserving rewrites of compiled Schematron stylesheets, applied in memory.

Why: SaxonC runs Saxon-HE as a GraalVM native image (ahead-of-time compiled, no JIT), so every
XPath step the published stylesheets evaluate costs several times what it costs in a warm JVM.
Profiling the EN 16931 and XRechnung stylesheets over the KoSIT test suite showed five kinds of
work that can be avoided or done far cheaper without changing any result:

1. SVRL output nobody reads (``svrl:fired-rule`` per rule context, ``svrl:active-pattern``,
   ``svrl:ns-prefix-in-attribute-values``) and indentation - a third of transform time.
2. Code-list checks written as ``contains(' AA AB ... ', concat(' ', normalize-space(X), ' '))``:
   a linear scan of a string of up to 8,000 characters per coded value - a quarter of the
   EN 16931 layer's time. Rewritten to a hash lookup for the common case (a single token) and
   the original expression, unchanged, for everything else (empty values, several tokens).
3. Visiting attribute nodes (``apply-templates select="@*|*"``) in patterns where no rule can
   match an attribute: the skeleton's default template does nothing for them.
4. The empty-element pattern (PEPPOL-EN16931-R008 and its kin): up to half of an XRechnung
   layer, because Saxon builds the string value of every leaf. It is taken out of the
   stylesheet and answered on the lxml tree instead (:mod:`.native`, which says why that is
   exact). Every exact alternative tried inside the stylesheet (``string(.)``, ``matches``,
   ``string-length``, testing the text nodes one by one, reordering the conjuncts) was no
   faster or saved under a fifth.
5. Absent-path asserts (UBL-CR-001 ...): 640 ``not(cac:X/cbc:Y)`` tests on the root of every
   UBL invoice, 0.9-1.3 ms per document in Saxon. Long runs of them are answered with one walk
   of the lxml tree instead (:mod:`.absent`).

6. Name-suffix tests, ``ends-with(name(), 'Quantity')``: in EN 16931 CII they sit in match
   patterns like ``//ram:*[ends-with(name(), 'Quantity')]``, evaluated for every element of
   the document, and ``name()`` builds a new ``prefix:local`` string each time.
   ``local-name()`` returns the stored name: 13% of that layer.

7. Line-level rules that read the header through ``../../../`` (PEPPOL-EN16931-R110/R111:
   O(lines^2)) answer through keys built once per document (:mod:`.keyed_paths`).

8. Long literal ``test`` attributes of SVRL results (BR-CL-23 spells out a 9 KB code list):
   Saxon writes a short marker and the SVRL reader puts the text back (:mod:`.assert_texts`),
   so a finding costs the same whatever its assert's length.

9. Locations: the skeleton counts an element's same-name preceding siblings for every
   finding, O(lines) per line-level finding; the count is looked up in a key instead
   (:mod:`.positions`).

10. Walking the whole document once per pattern to find the few elements its rules match:
   the root selects the rules' contexts up front instead (:mod:`.walk`) - half of the
   EN 16931 layer, three fifths of the XRechnung one, on a 2,000-line invoice.

11. Document-wide lookups by a child's value, ``//cac:ClassifiedTaxCategory[normalize-space(
    cbc:ID) = 'S']`` on the root of every UBL invoice, answered by a key built once per
    document (:mod:`.keyed_lookups`).

Measured and not done: grouping a rule's asserts into one test did not help: the cost is in
evaluating the paths, not in the instructions around them.

Every rewrite is exact - the docstring of each says why - and the installed files stay
byte-identical to the pinned originals. ``tests/validation/speedups/test_optimize.py`` checks each rewrite
on crafted inputs and compares the findings of the published and the rewritten stylesheets over
the whole corpus (XRechnung suite, CEN unit tests, Peppol, MLS, negative examples).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from gateway.validation.speedups.absent import extract as extract_absent_paths
from gateway.validation.speedups.assert_texts import shorten as shorten_assert_texts
from gateway.validation.speedups.keyed_lookups import keyed_lookups
from gateway.validation.speedups.keyed_paths import keyed_paths
from gateway.validation.speedups.native import SVRL, XSL, NativeCheck
from gateway.validation.speedups.native import extract as extract_empty_element_patterns
from gateway.validation.speedups.positions import keyed_positions
from gateway.validation.speedups.walk import candidate_walks
from gateway.validation.speedups.xpath_text import closing, code_indexes, without_predicates

__all__ = ["SVRL", "XSL", "Prepared", "optimize", "prepared_stylesheet"]
MAP_CONTAINS = "Q{http://www.w3.org/2005/xpath-functions/map}contains"

# XML whitespace as XPath's normalize-space() and the regex class \s define it.
_XML_SPACE = " \t\r\n"


@dataclass
class Rewrites:
    """What :func:`optimize` changed, by kind (for logs, tests and ``--explain`` output)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n


@dataclass(frozen=True)
class Prepared:
    """A rewritten stylesheet: the text Saxon compiles, and the patterns taken out of it,
    which :func:`gateway.validation.schematron.parse_svrl` answers where their markers are."""

    text: str
    native: tuple[NativeCheck, ...]
    #: Long literal ``test`` texts of SVRL results, written as markers (:mod:`.assert_texts`).
    tests: tuple[str, ...] = ()


def prepared_stylesheet(path: Path) -> Prepared:
    """The stylesheet at ``path`` with every rewrite applied."""
    tree = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
    native: list[NativeCheck] = []
    optimize(tree.getroot(), native)
    tests = shorten_assert_texts(tree.getroot())  # last: the native checks read the originals
    return Prepared(etree.tostring(tree, encoding="unicode"), tuple(native), tests)


def optimize(root: etree._Element, native: list[NativeCheck] | None = None) -> Rewrites:
    """Apply every rewrite in place; patterns taken out of the stylesheet go to ``native``."""
    done = Rewrites()
    done.add("svrl-output", drop_unused_svrl(root))
    done.add("code-list", hash_code_lists(root))
    done.add("attribute-walk", skip_attribute_walk(root))
    done.add("name-suffix", local_name_suffixes(root))
    done.add("keyed-paths", keyed_paths(root))
    done.add("keyed-lookups", keyed_lookups(root))
    taken: list[NativeCheck] = []
    taken += extract_empty_element_patterns(root, start=len(taken))
    done.add("empty-element-pattern", len(taken))
    absent = extract_absent_paths(root, start=len(taken))
    done.add("absent-path-asserts", sum(len(run.asserts) for run in absent))
    taken += absent
    # after the extractions: they take whole patterns and asserts out of the walk
    done.add("candidate-walks", candidate_walks(root))
    # last: the extractions above recognise the skeleton's location templates as published
    done.add("keyed-positions", keyed_positions(root))
    if native is not None:
        native.extend(taken)
    return done


# -- 1. unused SVRL output ---------------------------------------------------------------------
def drop_unused_svrl(root: etree._Element) -> int:
    """Remove literal SVRL elements the report never reads, and indentation.

    They are literal result elements with no side effects; removing them changes the SVRL only
    by their absence. Asserts and reports are untouched.
    """
    unused = ("fired-rule", "active-pattern", "ns-prefix-in-attribute-values")
    n = 0
    for el in list(root.iter(*(f"{{{SVRL}}}{name}" for name in unused))):
        el.getparent().remove(el)
        n += 1
    for out in root.iter(f"{{{XSL}}}output"):
        out.set("indent", "no")
    return n


# -- 2. code lists -----------------------------------------------------------------------------
_CONTAINS = re.compile(r"contains\(\s*'")
_CONCAT = re.compile(r"\s*,\s*concat\(\s*' '\s*,\s*normalize-space\(")
_TAIL = re.compile(r"\s*,\s*' '\s*\)\s*\)")


def hash_code_lists(root: etree._Element) -> int:
    """Rewrite code-list membership tests in ``xsl:when``/``xsl:if`` to a hash lookup.

    Original: ``contains(' T1 T2 ... Tn ', concat(' ', normalize-space(X), ' '))`` where the
    list literal is single spaces between tokens without whitespace, with one space at each end.
    Let v = normalize-space(X): no leading or trailing whitespace, internal runs of XML
    whitespace collapsed to one space.

    - If v is non-empty and has no space, ' v ' occurs in the list exactly when v is one of the
      tokens: the two spaces around a space-free v can only bracket one whole token.
    - Otherwise (v empty, or several words) the original ``contains`` is evaluated, unchanged.

    Rewritten: ``(let $v := normalize-space(X) return if ($v = '' or contains($v, ' '))
    then contains(LIST, concat(' ', $v, ' ')) else map:contains(MAP, $v))`` where MAP is a map
    literal of the tokens, which Saxon builds once at compile time.
    """
    n = 0
    for el in root.iter(f"{{{XSL}}}when", f"{{{XSL}}}if"):
        test = el.get("test")
        if test and "contains(" in test:
            new, k = _rewrite_code_lists(test)
            if k:
                el.set("test", new)
                n += k
    return n


def _rewrite_code_lists(expr: str) -> tuple[str, int]:
    out: list[str] = []
    pos = 0
    count = 0
    for m in _CONTAINS.finditer(expr):
        if m.start() < pos:
            continue
        found = _match_code_list(expr, m.start(), m.end())
        if found is None:
            continue
        end, tokens, literal, arg = found
        out.append(expr[pos : m.start()])
        keys = ",".join(f"'{t}':true()" for t in dict.fromkeys(tokens))
        out.append(
            f"(let $gw-v := normalize-space({arg}) return "
            f"if ($gw-v = '' or contains($gw-v, ' ')) "
            f"then contains('{literal}', concat(' ', $gw-v, ' ')) "
            f"else {MAP_CONTAINS}(map{{{keys}}}, $gw-v))"
        )
        pos = end
        count += 1
    out.append(expr[pos:])
    return "".join(out), count


def _match_code_list(
    expr: str, start: int, lit_start: int
) -> tuple[int, list[str], str, str] | None:
    """Parse ``contains('LIST', concat(' ', normalize-space(ARG), ' '))`` at ``start``."""
    lit_end = expr.find("'", lit_start)
    if lit_end < 0:
        return None
    literal = expr[lit_start:lit_end]
    tokens = literal[1:-1].split(" ") if len(literal) > 2 else []
    well_formed = (
        literal.startswith(" ")
        and literal.endswith(" ")
        and tokens
        and all(t and not any(c in _XML_SPACE for c in t) for t in tokens)
    )
    if not well_formed:
        return None
    concat = _CONCAT.match(expr, lit_end + 1)
    if concat is None:
        return None
    arg_end = closing(expr, concat.end() - 1)  # the group normalize-space( opens
    if arg_end is None:
        return None
    tail = _TAIL.match(expr, arg_end + 1)
    if tail is None:
        return None
    return tail.end(), tokens, literal, expr[concat.end() : arg_end]


# -- 6. name suffixes -------------------------------------------------------------------------
_NAME_SUFFIX = re.compile(
    r"(?<![\w.\-:])ends-with\(\s*name\(\s*\)\s*,\s*('[^':]*'|\"[^\":]*\")\s*\)"
)


def local_name_suffixes(root: etree._Element) -> int:
    """Rewrite ``ends-with(name(), S)`` to ``ends-with(local-name(), S)`` where S is a string
    literal without a colon, in the XPath of XSLT instructions and match patterns.

    Exact: ``name()`` is ``local`` or ``prefix:local``. If the local name ends with S, so does
    the whole name. If the whole name ends with S and S were longer than the local name, S
    would contain the colon before it - it has none. For nodes without a prefix (and for
    those without a name, where both are "") the two are the same string. The literal
    ``test`` attributes of ``svrl:failed-assert`` (reported to the user) are not touched.
    """
    n = 0
    for el in root.iter(f"{{{XSL}}}*"):
        for attr in ("match", "test", "select"):
            expr = el.get(attr)
            if expr and "ends-with" in expr:
                new, k = _rewrite_name_suffixes(expr)
                if k:
                    el.set(attr, new)
                    n += k
    return n


def _rewrite_name_suffixes(expr: str) -> tuple[str, int]:
    code = code_indexes(expr)
    if code is None:
        return expr, 0
    out: list[str] = []
    pos = count = 0
    for m in _NAME_SUFFIX.finditer(expr):
        if m.start() not in code:
            continue  # inside a string literal: leave it
        out += [expr[pos : m.start()], f"ends-with(local-name(), {m.group(1)})"]
        pos = m.end()
        count += 1
    out.append(expr[pos:])
    return "".join(out), count


# -- 3. attribute walk -------------------------------------------------------------------------
_DEFAULT_MATCHES = {"@*|node()", "text()"}


def skip_attribute_walk(root: etree._Element) -> int:
    """In modes where no rule can match an attribute, walk ``*`` instead of ``@*|*``.

    The skeleton recurses with ``apply-templates select="@*|*"``. An attribute node reaching
    the skeleton's default template (``@*|node()``) produces nothing: it has no children. So if
    no other template of that mode has a pattern that can match an attribute, visiting
    attributes has no effect, and leaving them out changes no output. A mode is left alone if
    any of its patterns mentions the attribute axis outside predicates (conservative).
    """
    templates: dict[str, list[str]] = {}
    for t in root.iter(f"{{{XSL}}}template"):
        mode, match = t.get("mode"), t.get("match")
        if mode and match is not None:
            templates.setdefault(mode, []).append(match)
    safe = {
        mode
        for mode, matches in templates.items()
        if not any(_may_match_attribute(m) for m in matches if m.strip() not in _DEFAULT_MATCHES)
    }
    n = 0
    for at in root.iter(f"{{{XSL}}}apply-templates"):
        if at.get("mode") in safe and (at.get("select") or "").replace(" ", "") == "@*|*":
            at.set("select", "*")
            n += 1
    return n


def _may_match_attribute(pattern: str) -> bool:
    outside = without_predicates(pattern)
    return outside is None or "@" in outside or "attribute::" in outside or "attribute(" in outside
