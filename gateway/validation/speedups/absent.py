"""Absent-path asserts (``not(cac:X/cbc:Y)``), answered with lxml instead of inside Saxon.

Why: the EN 16931 UBL stylesheet (also inside Peppol BIS) checks, in one rule on the root
element, that 727 UBL elements the standard does not use are absent (UBL-CR-001 ...); 643 of
them are plain paths such as ``not(cac:InvoiceLine/cac:Item/cbc:PackQuantity)``. Saxon
evaluates each one on every invoice: 1-1.7 ms per UBL document, 30-40% of the layer.
libxml2 answers all of them with one union that is empty for a conforming invoice.

How, exactly (the same method as :mod:`.native`, which documents the marker mechanism):

- the pattern (mode) is entered only from the root template with ``select="/"``, and holds
  exactly one rule plus the skeleton's two default templates, so the rule fires once for
  each element its ``match`` selects, in document order - which is the order libxml2
  returns them for a union of absolute paths;
- the ``match`` is a union of absolute paths of plain names (``/ubl:Invoice | /cn:CreditNote``);
- each taken assert's test is ``not(P)``, where P is a relative path of plain names, the first
  step optionally a union in parentheses; such a path selects the same nodes in XPath 1.0
  (libxml2) as in XPath 3.1 (Saxon), with prefixes bound as on the stylesheet element;
- id, flag, message and test are literal, the location is the context's full path.

A run of consecutive such asserts becomes one marker element; the rule's other asserts stay
in Saxon, where they were, so the findings keep their order.

Only long runs are taken (:data:`MIN_RUN`): measured on the KoSIT suite, the two UBL runs
(408 and 232 asserts) cost Saxon 0.9-1.3 ms per invoice and the lxml walk 0.2 ms, while the
EN 16931 CII rules, with runs of 1-87 asserts on line-level elements, got slower when taken
out (Saxon +0.4 ms, markers and walks +0.5 ms per invoice).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from lxml import etree

from gateway.validation.speedups.locations import FullPaths
from gateway.validation.speedups.native import (
    MARKER,
    XSL,
    Finding,
    calls_into,
    children,
    full_path_is_canonical,
    in_root_template,
    literal_assert,
    recurses,
)
from gateway.validation.speedups.xpath_text import alternatives, last_step

_NAME = r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
_FIRST = rf"(?:{_NAME}|\(\s*{_NAME}(?:\s*\|\s*{_NAME})*\s*\))"
PATH = re.compile(rf"{_FIRST}(?:\s*/\s*{_NAME})*")
ABSOLUTE = re.compile(rf"/\s*{_NAME}(?:\s*/\s*{_NAME})*")
MIN_RUN = 100  # shorter runs stay in Saxon (see above)


@dataclass(frozen=True)
class AbsentAssert:
    rule: str
    flag: str
    message: str
    test: str
    path: str  # P of not(P)


@dataclass(frozen=True)
class AbsentPaths:
    """A run of absent-path asserts of one rule, evaluated on the lxml tree.

    The paths are compiled into a tree of element names (a trie), walked once from the rule's
    context element: one visit of the elements the paths can reach, instead of one XPath
    evaluation per assert (libxml2 took 1.5 ms for the 643 UBL paths, the walk ~0.1 ms).
    """

    match: str
    namespaces: tuple[tuple[str, str], ...]
    asserts: tuple[AbsentAssert, ...] = field(default_factory=tuple)

    @cached_property
    def _trie(self) -> _Node:
        ns = dict(self.namespaces)
        root = _Node()
        for i, a in enumerate(self.asserts):
            first, _, rest = a.path.partition("/") if not a.path.startswith("(") else ("", "", "")
            if a.path.startswith("("):
                group, _, rest = a.path[1:].partition(")")
                members = [n.strip() for n in group.split("|")]
                rest = rest.strip().removeprefix("/")
            else:
                members = [first.strip()]
            tail = [n.strip() for n in rest.split("/")] if rest.strip() else []
            for alternative in members:
                node = root
                for name in [alternative, *tail]:
                    node = node.children.setdefault(_clark(name, ns), _Node())
                node.ends.append(i)
        return root

    @cached_property
    def _match(self) -> tuple[list[str], ...]:
        ns = dict(self.namespaces)
        return tuple(
            [_clark(n.strip(), ns) for n in alternative.strip().lstrip("/").split("/")]
            for alternative in self.match.split("|")
        )

    def findings(self, tree: etree._ElementTree) -> list[list[Finding]]:
        """The failed asserts for each firing of the rule (each element it matches)."""
        out = []
        full_path = FullPaths()
        for context in self._contexts(tree):
            present: set[int] = set()
            _walk(context, self._trie, present)
            if not present:
                out.append([])  # the common case: a conforming document
                continue
            where = full_path(context)
            out.append(
                [
                    (a.rule, a.flag, where, a.message, a.test)
                    for i, a in enumerate(self.asserts)
                    if i in present
                ]
            )
        return out

    def _contexts(self, tree: etree._ElementTree) -> list[etree._Element]:
        """The elements the absolute ``match`` selects, in document order."""
        found = []
        for steps in self._match:
            nodes = [tree.getroot()] if tree.getroot().tag == steps[0] else []
            for step in steps[1:]:
                nodes = [c for n in nodes for c in n.iterchildren(step)]
            found.append(nodes)
        hits = [nodes for nodes in found if nodes]
        if len(hits) <= 1:
            return hits[0] if hits else []
        # Several alternatives match: let libxml2 put the union in document order.
        return etree.XPath(self.match, namespaces=dict(self.namespaces))(tree)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)  # asserts whose path ends here


def _walk(el: etree._Element, node: _Node, present: set[int]) -> None:
    # All children, not iterchildren(etree.Element): a comment's or PI's tag is a function,
    # never a key of the trie; 18% faster on a 10,000-line invoice (71 -> 58 ms).
    get = node.children.get
    for child in el:
        below = get(child.tag)
        if below is None:
            continue
        if below.ends:
            present.update(below.ends)
        if below.children:
            _walk(child, below, present)


def extract(root: etree._Element, start: int = 0, min_run: int | None = None) -> list[AbsentPaths]:
    """Take every run of at least ``min_run`` (default :data:`MIN_RUN`) absent-path asserts out
    of the stylesheet (in place); markers are numbered from ``start`` in the returned order."""
    min_run = MIN_RUN if min_run is None else min_run
    if not full_path_is_canonical(root) or _has_default_namespace(root):
        return []
    templates: dict[str, list[etree._Element]] = {}
    for t in root.iter(f"{{{XSL}}}template"):
        if t.get("mode"):
            templates.setdefault(t.get("mode"), []).append(t)
    found: list[AbsentPaths] = []
    for call in list(root.iter(f"{{{XSL}}}apply-templates")):
        mode = call.get("mode")
        if call.get("select") != "/" or not mode or not in_root_template(call):
            continue
        for rule in _rules(root, mode, templates.get(mode, [])):
            for run in (r for r in _runs(rule) if len(r) >= min_run):
                asserts = tuple(a for a in map(_assert, run) if a is not None)
                marker = etree.Element(MARKER, n=str(start + len(found)))
                marker.tail = run[-1].tail
                run[0].addprevious(marker)
                for el in run:
                    rule.remove(el)
                namespaces = tuple(sorted((k, v) for k, v in rule.nsmap.items() if k))
                found.append(AbsentPaths(rule.get("match", ""), namespaces, asserts))
    return found


def _has_default_namespace(root: etree._Element) -> bool:
    """``xpath-default-namespace`` would make unprefixed names mean something else in Saxon."""
    return any(
        el.get("xpath-default-namespace") or el.get(f"{{{XSL}}}xpath-default-namespace")
        for el in root.iter()
        if isinstance(el.tag, str)
    )


def _rules(
    root: etree._Element, mode: str, templates: list[etree._Element]
) -> list[etree._Element]:
    """The mode's rules whose firings are exactly the elements their absolute ``match``
    selects, in document order."""
    if calls_into(root, mode) != 1:
        return []
    rules = [t for t in templates if t.get("match") not in ("text()", "@*|node()")]
    defaults = [t for t in templates if t.get("match") in ("text()", "@*|node()")]
    if len(defaults) != 2:
        return []
    for t in defaults:
        kids = children(t)
        if t.get("match") == "text()" and kids:
            return []
        if t.get("match") == "@*|node()" and not (len(kids) == 1 and recurses(kids[0], mode)):
            return []
    # Every element is visited once, in document order: every rule recurses into children.
    if not all(children(t) and recurses(children(t)[-1], mode) for t in rules):
        return []
    out = []
    for rule in rules:
        paths = alternatives(rule.get("match") or "")
        if paths is None or not all(ABSOLUTE.fullmatch(a) for a in paths):
            continue
        targets = {_clark(a.rsplit("/", 1)[-1].strip(), rule.nsmap) for a in paths}
        if None in targets:
            continue
        priority = _priority(rule)
        rivals = [t for t in rules if t is not rule]
        if priority is None or any(
            (_priority(t) is None or _priority(t) >= priority)  # type: ignore[operator]
            and _may_match(t, targets)
            for t in rivals
        ):
            continue
        out.append(rule)
    return out


def _priority(t: etree._Element) -> float | None:
    try:
        return float(t.get("priority", ""))
    except ValueError:
        return None


def _clark(name: str, namespaces: Mapping[str | None, str]) -> str | None:
    """``{uri}local`` of a prefixed name; None if the prefix is not bound."""
    prefix, _, local = name.rpartition(":")
    namespace = namespaces.get(prefix) if prefix else ""
    return None if namespace is None else f"{{{namespace}}}{local}"


# ``*[ends-with(name(), 'Amount') and ...]``: the step only matches names ending so.
_SUFFIX = re.compile(
    r"(?:[\w.\-]+:)?\*\[\s*ends-with\(\s*(?:local-)?name\(\)\s*,\s*'([^':]+)'\s*\)"
    r"\s*(?:\]|and\b)"
)
_STEP = re.compile(r"(?:([\w.\-]+|\*):)?([\w.\-]+|\*)(?![\w.\-(:])")


def _may_match(rival: etree._Element, targets: set[str | None]) -> bool:
    """Could the rival rule's pattern match an element named like one of ``targets``?
    Conservative: anything not understood may match."""
    locals_ = {t.split("}", 1)[1] for t in targets if t}
    split = alternatives(rival.get("match") or "")
    if split is None:
        return True
    for alternative in split:
        last = last_step(alternative)
        if last.startswith(("@", "text()", "comment()", "processing-instruction(")):
            continue
        suffix = _SUFFIX.match(last)
        if suffix is not None:
            if any(local.endswith(suffix.group(1)) for local in locals_):
                return True
            continue
        step = _STEP.match(last)
        if step is None or step.group(2) == "*":
            return True  # *, prefix:*, node(), element() ... may match anything
        prefix, local = step.groups()
        if prefix == "*":
            if local in locals_:
                return True
        elif _clark(f"{prefix}:{local}" if prefix else local, rival.nsmap) in targets:
            return True
    return False


def _runs(rule: etree._Element) -> list[list[etree._Element]]:
    """Maximal runs of consecutive absent-path asserts among the rule's instructions."""
    runs: list[list[etree._Element]] = []
    current: list[etree._Element] = []
    for el in rule:
        if not isinstance(el.tag, str):
            continue  # comments between asserts do not break a run
        if _assert(el) is not None and el.nsmap == rule.nsmap:
            current.append(el)
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    return runs


def _assert(choose: etree._Element) -> AbsentAssert | None:
    if choose.tag != f"{{{XSL}}}choose":
        return None
    branches = children(choose)
    if len(branches) != 2 or [b.tag for b in branches] != [f"{{{XSL}}}when", f"{{{XSL}}}otherwise"]:
        return None
    when, otherwise = branches
    if children(when) or (when.text or "").strip():
        return None
    m = re.fullmatch(r"\s*not\s*\((.*)\)\s*", when.get("test", ""), re.S)
    if m is None or not PATH.fullmatch(m.group(1).strip()):
        return None
    prefixes = set(re.findall(r"([\w.\-]+):", m.group(1)))
    if not prefixes <= {k for k in when.nsmap if k}:
        return None  # Saxon would refuse the stylesheet; leave that to it
    inner = children(otherwise)
    parts = literal_assert(inner[0]) if len(inner) == 1 else None
    if parts is None:
        return None
    return AbsentAssert(
        parts["id"], parts["flag"], parts["text"], parts["test"], m.group(1).strip()
    )
