"""Rule contexts selected up front instead of found by walking every element, per pattern.

Why: the skeleton runs each Schematron pattern as a mode that walks the whole document - the
root's ``apply-templates select="/"``, then every template (rule or default) recursing with
``apply-templates select="*"`` - and asks, for every element, which rule of the pattern
matches it. Most elements match none (a 10,000-line XRechnung invoice has 170,000 elements,
17 a line; the EN 16931 rules have contexts for 3-5 of them): with every assert taken out,
walking and matching still cost half of the EN 16931 layer on such an invoice.

The rewrite: the root calls the mode once on ``(//A1, //A2, ...)/.`` - the rules' patterns as
path expressions (with the predicates of named steps dropped, so each selects a superset of
what its pattern matches) - and no template of the mode recurses any more.

Why it is exact (checked for each mode; any doubt leaves the mode as it is):
- Which nodes reach the mode: the walk visits the document node (the built-in rule passes on
  to its children; comments and processing instructions then fall to the default template,
  which does nothing for them) and every element once, in document order (pre-order is
  document order). The selection is the path expressions' nodes through ``/.`` (a path step
  sorts into document order and drops duplicates, XPath 3.1, 3.3.1), so it, too, is in
  document order without duplicates, and it holds every element a rule can match: a pattern ``P``
  matches a node ``N`` exactly when ``N`` is in ``root(N)//(P)`` (``/P`` and ``//P`` for
  absolute ones; XSLT 3.0, 5.5.3), and dropping a predicate only widens a path. Elements no
  rule matches, in the selection or not, went only to the default template, whose one effect
  was to recurse.
- What happens to each: ``apply-templates`` picks the same rule for a node however it was
  reached (matching depends only on the node), and the rule does the same; only its final
  recursion is gone, which the selection replaces. So the same rules fire on the same nodes in
  the same order, and the SVRL is the same.
- Conditions, else the mode is left alone: the root is the mode's one entry (``select="/"``
  in the root template); every rule ends in exactly one ``apply-templates select="*"`` into
  its own mode, and no other instruction of the stylesheet enters the mode; the default
  templates are the skeleton's two (``text()`` doing nothing, ``@*|node()`` recursing on
  ``*``); no ``xsl:mode`` declaration, no ``#all`` or multi-mode template, no
  ``apply-imports``/``next-match``, no imported or included module; every pattern
  alternative is a path of element steps (a leading ``(A | B)`` group is two paths), its
  last step a name or ``*`` (so no attribute, text or document node can be a rule context).
  Predicates of named steps are dropped (variables in them do not matter); a ``*`` step
  keeps its predicate, which then runs on every element, so it may only use element paths
  and functions that cannot fail (:func:`_harmless`).

Measured (2,000-line XRechnung invoice, in-process, loaded VM): EN 16931 UBL layer 771 ->
592 ms (0.77x), XRechnung UBL 346 -> 142 ms (0.41x); what is left of the walk is mostly the
selection itself (~1 ms per path per 2,000 lines) and the ``*`` predicates.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.validation.speedups.native import XSL, calls_into, in_root_template
from gateway.validation.speedups.xpath_text import alternatives, without_predicates

_DEFAULTS = {"text()", "@*|node()"}
_NAME = r"(?:[A-Za-z_][\w.\-]*:)?(?:[A-Za-z_][\w.\-]*|\*)"
#: An alternative without its predicates: ``/``, ``//`` or nothing, then named element steps.
_PATH = re.compile(rf"(?:/|//)?{_NAME}(?:\s*//?\s*{_NAME})*")


def candidate_walks(root: etree._Element) -> int:
    """Rewrite every mode that qualifies (see the module docstring); how many were."""
    others = ("apply-imports", "next-match", "import", "include", "use-package")
    if any(True for _ in root.iter(*(f"{{{XSL}}}{name}" for name in others))):
        return 0  # templates of a mode elsewhere, or a template calling the next one
    declared = {m.get("name") for m in root.iter(f"{{{XSL}}}mode")}
    templates: dict[str, list[etree._Element]] = {}
    shared = False
    for t in root.iter(f"{{{XSL}}}template"):
        modes = (t.get("mode") or "").split()
        shared |= len(modes) > 1 or "#all" in modes
        for mode in modes:
            templates.setdefault(mode, []).append(t)
    if shared:
        return 0
    n = 0
    for call in list(root.iter(f"{{{XSL}}}apply-templates")):
        mode = call.get("mode")
        if (
            not mode
            or mode in declared
            or call.get("select") != "/"
            or len(call)
            or not in_root_template(call)
            or calls_into(root, mode) != 1
        ):
            continue
        selection = _selection(root, mode, templates.get(mode, []), call.nsmap)
        if selection is None:
            continue
        call.set("select", selection)
        for t in templates[mode]:
            for inner in list(t.iter(f"{{{XSL}}}apply-templates")):
                if inner.get("mode") == mode:
                    inner.getparent().remove(inner)
        n += 1
    return n


def _selection(
    root: etree._Element, mode: str, templates: list[etree._Element], scope: dict
) -> str | None:
    """The union of the mode's rule contexts as a path expression, or None if the mode does
    not qualify."""
    defaults = [t for t in templates if (t.get("match") or "").replace(" ", "") in _DEFAULTS]
    rules = [t for t in templates if t not in defaults]
    if not _skeleton_defaults(defaults, mode):
        return None
    inner = [c for c in root.iter(f"{{{XSL}}}apply-templates") if c.get("mode") == mode]
    if any(c.getparent() not in templates for c in inner if c.get("select") != "/"):
        return None  # entered from another mode's template
    paths: list[str] = []
    for rule in rules:
        if not _recurses_last(rule, mode):
            return None
        split = alternatives(rule.get("match") or "")
        if split is None:
            return None
        for alternative in split:
            found = _paths(alternative, rule, scope)
            if found is None:
                return None
            paths += found
    if not paths:
        return "()"  # a pattern without rules: nothing to visit
    # A sequence put into document order by ``/.`` (duplicates dropped): the same nodes as
    # the union ``P1 | P2 | ...``, which Saxon merged pairwise (36 -> 14 ms for 37 paths).
    return f"({', '.join(dict.fromkeys(paths))})/."


def _skeleton_defaults(defaults: list[etree._Element], mode: str) -> bool:
    shapes = set()
    for t in defaults:
        match = (t.get("match") or "").replace(" ", "")
        body = [c for c in t if isinstance(c.tag, str)]
        silent = match == "text()" and not body and not (t.text or "").strip()
        if not silent and not (match == "@*|node()" and len(body) == 1):
            return False
        if not silent and not _is_recursion(body[0], mode):
            return False
        shapes.add(match)
    return shapes == _DEFAULTS and len(defaults) == 2


def _recurses_last(rule: etree._Element, mode: str) -> bool:
    """The rule ends in its one recursion into ``mode`` (``select="*"``)."""
    body = [c for c in rule if isinstance(c.tag, str)]
    calls = [c for c in rule.iter(f"{{{XSL}}}apply-templates") if c.get("mode") == mode]
    return bool(body) and _is_recursion(body[-1], mode) and calls == [body[-1]]


def _is_recursion(el: etree._Element, mode: str) -> bool:
    return (
        el.tag == f"{{{XSL}}}apply-templates"
        and el.get("mode") == mode
        and el.get("select") == "*"
        and not len(el)
    )


def _paths(alternative: str, rule: etree._Element, scope: dict) -> list[str] | None:
    """The alternative as path expressions (one, or one per member of a leading group
    ``(A | B)/rest``), or None unless it is made of element steps."""
    bare = without_predicates(alternative)
    if bare is None or any(c in bare for c in "'\"$"):
        return None  # a literal or a variable outside the predicates: not a plain path
    group = re.fullmatch(r"\(([^()]*)\)(.*)", bare.strip())
    if group is None:
        path = _path(alternative, bare, rule, scope)
        return None if path is None else [path]
    out = []
    for member in group.group(1).split("|"):
        path = _path(None, member.strip() + group.group(2), rule, scope)
        if path is None:
            return None
        out.append(path)
    return out


def _path(alternative: str | None, bare: str, rule: etree._Element, scope: dict) -> str | None:
    """``bare`` (an alternative without its predicates) as a path expression from the
    document node in EQNames, so the root template's namespace declarations do not matter;
    a wildcard last step keeps the ``alternative``'s predicates. None unless it is a plain
    path of element steps."""
    if not _PATH.fullmatch(bare):
        return None
    steps = re.split(r"(//?)", bare.replace(" ", ""))
    out = []
    for step in steps:
        if step in ("/", "//", ""):
            out.append(step)
            continue
        if step == "*":
            out.append("*")
            continue
        prefix, _, local = step.rpartition(":")
        uri = rule.nsmap.get(prefix or None, "") if prefix else ""
        if prefix and not uri:
            return None
        out.append(f"Q{{{uri}}}{local}")
    path = "".join(out)
    if not bare.startswith("/"):
        path = "//" + path
    if bare.endswith("*"):
        if alternative is None:
            return None
        return _wildcard(alternative, bare, rule.nsmap == scope)
    return f"({path})"


def _wildcard(alternative: str, bare: str, same_scope: bool) -> str | None:
    """``//*[P]`` (or ``*[P]``, ``//p:*[P]``) keeps its predicate: it is what narrows a wildcard; the
    predicate's names stay prefixed, so the rule must see the root template's declarations."""
    if not re.fullmatch(r"(?://)?(?:[A-Za-z_][\w.\-]*:)?\*", bare) or not same_scope:
        return None
    if not _harmless(alternative):
        return None
    body = alternative[2:] if alternative.startswith("//") else alternative
    return f"(//{body})"


#: Functions a kept predicate may call: none can raise an error on any element.
_HARMLESS = {"not", "ends-with", "starts-with", "contains", "local-name", "name", "normalize-space"}
_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")


def _harmless(predicate: str) -> bool:
    """Whether evaluating ``predicate`` on any element can neither fail nor depend on how
    the element was reached: a kept predicate runs on every element, where the pattern ran
    only on those no rule of higher priority took (a dynamic error there would be new).
    Element paths, ``and``/``or`` and the functions above; no variables, ``current()``,
    comparisons or numbers (an untyped value compared with a number can fail)."""
    code = _LITERAL.sub("''", predicate)
    if any(c in code for c in "$=<>+") or re.search(r"(?<![\w.\-])\d", code):
        return False
    calls = re.findall(r"([\w.\-]+)\s*\(", code)
    return all(name in _HARMLESS for name in calls)
