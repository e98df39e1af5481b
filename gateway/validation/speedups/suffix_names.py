"""Rule contexts chosen by a name suffix, selected by name when the document allows it.

Why (issue 18, target 6): after :mod:`.walk`, the EN 16931 UBL root selects two patterns'
contexts as ``//*[ends-with(local-name(), 'Amount') and ...]`` and
``//*[ends-with(local-name(), 'BinaryObject')]``: the predicate runs on every element of the
document, and ``local-name()`` costs Saxon ~1.3-3 µs per element (a 2,000-line invoice, 34,000
elements: 128 ms for one such scan against 0.1 ms for ``//cbc:LineExtensionAmount``, which
Saxon answers from its tree's name index). A 10,000-line invoice has 170,000 elements.

The rewrite, in the select of the root's ``apply-templates`` (where :mod:`.walk` put them):
``(//*[P])`` with ``P`` = ``ends-with(local-name(), 'S')`` or ``ends-with(local-name(), 'S')
and R`` becomes ``(if ($gw-sfx-n) then //*[P] else (//N1 | ... | //Nk)[P])``, where N1..Nk
are the element names (EQNames) the stylesheet mentions whose local part ends with S, and the
global parameter ``gw-sfx-n`` (default ``true()``: the original) is set per document by
:func:`needs_scan` from the lxml tree: false when every element of the document whose local
name ends with S has one of those names.

Why it is exact:
- With the parameter false, the elements satisfying P all end with S, so all have a name among
  N1..Nk; each ``//Ni`` holds only elements ending with S. So ``(//N1 | ...)`` holds every
  element satisfying P, and ``[P]`` keeps exactly those; a union is in document order without
  duplicates, as ``//*[P]`` is.
- ``[P]`` is the same predicate: :mod:`.walk` kept it only if it uses no variable, number,
  position or function that can fail, and ``A and R`` is a boolean, so a filter on the union
  and a step predicate agree. ``R`` must not contain a top-level ``or`` (``A and R1 or R2``
  is not ``A and (R1 or R2)``).
- The lxml tree and Saxon's are the same document (Saxon parses its serialisation), so the
  names are the same; ``//*`` from the root is lxml's ``iter()`` of the root element.
- With the parameter true, or never set, the original expression runs unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from gateway.validation.speedups.native import XSL, in_root_template
from gateway.validation.speedups.xpath_text import closing, code_indexes, top_level

PARAM = "gw-sfx-{}"
_START = "(//*[ends-with(local-name(), '"
_NAME = re.compile(r"(?<![\w.\-:{}$@])([A-Za-z_][\w.\-]*):([A-Za-z_][\w.\-]*)(?![\w.\-:(])")
_EQNAME = re.compile(r"Q\{([^{}]*)\}([A-Za-z_][\w.\-]*)")


@dataclass(frozen=True)
class SuffixGuard:
    """One rewritten scan: its parameter, the suffix and the names the rewrite selects."""

    param: str
    suffix: str
    names: frozenset[str]  # Clark names, {uri}local


def suffix_names(root: etree._Element) -> tuple[SuffixGuard, ...]:
    """Rewrite every such scan in the root template's selections; their guards."""
    names = _mentioned(root)
    guards: list[SuffixGuard] = []
    for call in root.iter(f"{{{XSL}}}apply-templates"):
        select = call.get("select") or ""
        if _START not in select or not in_root_template(call):
            continue
        new = _rewrite(select, names, guards)
        if new != select:
            call.set("select", new)
    for guard in guards:  # top-level, after any import: at the end
        etree.SubElement(root, f"{{{XSL}}}param", name=guard.param, select="true()").tail = "\n"
    return tuple(guards)


def needs_scan(guard: SuffixGuard, tags: set[str]) -> bool:
    """Whether the document (its elements' distinct ``tags``) has an element ending with the
    suffix that the rewrite's names miss: then the original scan must run."""
    return any(
        tag.rpartition("}")[2].endswith(guard.suffix) and tag not in guard.names for tag in tags
    )


def element_tags(tree: etree._ElementTree) -> set[str]:
    """The distinct tags of the document's elements (comments and PIs left out)."""
    return {el.tag for el in tree.getroot().iter(etree.Element)}


def _rewrite(select: str, names: set[str], guards: list[SuffixGuard]) -> str:
    code = code_indexes(select)
    if code is None:
        return select
    out, pos = [], 0
    start = select.find(_START)
    while start >= 0:
        end = closing(select, start)
        found = _scan(select[start : end + 1]) if end is not None and start in code else None
        if found is not None:
            suffix, predicate = found
            chosen = sorted(n for n in names if n.rpartition("}")[2].endswith(suffix))
            if chosen:
                guard = SuffixGuard(PARAM.format(len(guards)), suffix, frozenset(chosen))
                guards.append(guard)
                union = " | ".join(f"//Q{name}" for name in chosen)  # {uri}local -> Q{uri}local
                out += [
                    select[pos:start],
                    f"(if (${guard.param}) then //*[{predicate}] else ({union})[{predicate}])",
                ]
                pos = end + 1
        start = select.find(_START, (end or start) + 1)
    out.append(select[pos:])
    return "".join(out)


def _scan(group: str) -> tuple[str, str] | None:
    """(suffix, predicate) of ``(//*[ends-with(local-name(), 'S') ...])``, or None."""
    m = re.fullmatch(r"\(//\*\[(ends-with\(local-name\(\), '([^'\"{}]+)'\)(.*))\]\)", group, re.S)
    if m is None:
        return None
    predicate, suffix, rest = m.groups()
    if rest.strip():
        conjunct = re.fullmatch(r"\s+and\s+(.+)", rest, re.S)
        top = top_level(conjunct.group(1)) if conjunct else None
        if top is None or re.search(r"(?<![\w.\-])or(?![\w.\-])", top):
            return None
    if closing(f"[{predicate}]", 0) != len(predicate) + 1:
        return None  # the predicate is not one bracketed whole
    return suffix, predicate


def _mentioned(root: etree._Element) -> set[str]:
    """Clark names of every prefixed or EQName element name the stylesheet's XPath mentions
    (a superset is harmless: a name no element has selects nothing)."""
    out: set[str] = set()
    for el in root.iter(f"{{{XSL}}}*"):
        for attr in ("match", "select", "test", "use"):
            expr = el.get(attr)
            if not expr:
                continue
            for prefix, local in _NAME.findall(expr):
                uri = el.nsmap.get(prefix)
                if uri:
                    out.add(f"{{{uri}}}{local}")
            out.update(f"{{{uri}}}{local}" for uri, local in _EQNAME.findall(expr))
    return out
