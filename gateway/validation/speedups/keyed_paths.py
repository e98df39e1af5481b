"""Line-level rules that read the document header, answered through keys (linear, not
quadratic in the number of lines).

Why: PEPPOL-EN16931-R110/R111 (Peppol BIS and XRechnung, UBL and CII) check every line
period against the invoice period::

    match="ubl-invoice:Invoice[cac:InvoicePeriod/cbc:StartDate]/cac:InvoiceLine/cac:InvoicePeriod/cbc:StartDate"
    test="xs:date(text()) >= xs:date(../../../cac:InvoicePeriod/cbc:StartDate)"

Both the pattern's predicate and the test walk all children of the invoice - every line -
once per line date: O(lines^2). A 10,000-line invoice spent seconds in these two rules alone
(issue 18; a warm JVM grows the same way).

How, exactly: two rewrites, each replacing a path by a key lookup that returns the same nodes
in the same (document) order. Saxon builds a key's index once per document, on first use, in
one pass; a lookup is a hash probe.

- **Up-then-down paths** in ``xsl:when``/``xsl:if`` tests, ``(../){k}A1/.../Am`` with k >= 3
  and prefixed element names A1..Am (child axis, no predicates): for the k-th ancestor X of the
  context node this is every Am child of an A(m-1) child ... of an A1 child of X. The key
  ``match="A1/.../Am" use="generate-id(..{m times})"`` indexes exactly the Am elements under
  such a chain by the id of the parent of their A1 ancestor, so ``key(K, generate-id(X))``
  returns the same nodes; key() returns them in document order, as a path does. When X does
  not exist, ``generate-id(())`` is ``""``, which no node's id is: both give ``()``.
- **Predicates on an ancestor step** of a template pattern, ``N[A1/.../Am]/S1/.../Sr`` with
  r >= 2 and names only: ``N[exists(key(K, generate-id()))]`` with ``match="N[A1/.../Am]"
  use="generate-id()"``. The key holds the N elements for which the predicate is true, each
  under its own id, so the lookup is non-empty exactly when the predicate holds for this N.

Keys need the context node's tree to be rooted at a document node: the rewritten tests are
only those evaluated on the matched node of a template whose mode visits the source document
(no ``xsl:for-each`` in between), and source documents are parsed documents. Everything else
is left alone; ``tests/validation/test_optimize.py`` compares the findings of the published
and the rewritten stylesheets over the corpus and line-period mutations.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.validation.speedups.xpath_text import code_indexes

XSL = "http://www.w3.org/1999/XSL/Transform"
_NAME = r"[A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*"
_NAMES = rf"{_NAME}(?:/{_NAME})*"
#: (../){k}A1/.../Am as a whole operand: not preceded or followed by more path or call syntax.
_UP_PATH = re.compile(rf"(?<![\w.\-:/@$\])])((?:\.\./){{3,}})({_NAMES})(?![\w.\-:/\[(])")
_GUARDED = re.compile(rf"\s*({_NAME})\[({_NAMES})\]((?:/{_NAME}){{2,}})\s*")
_CONTEXT_CHANGERS = {f"{{{XSL}}}{n}" for n in ("for-each", "for-each-group", "iterate")}


def keyed_paths(root: etree._Element) -> int:
    """Apply both rewrites in place; returns how many paths became key lookups."""
    keys: dict[tuple[str, str], str] = {}  # (match, use) -> key name

    def key(match: str, use: str) -> str:
        if (match, use) not in keys:
            keys[(match, use)] = f"gw-keyed-{len(keys)}"
        return keys[(match, use)]

    n = 0
    for template in root.iter(f"{{{XSL}}}template"):
        if not template.get("mode") or template.nsmap != root.nsmap:
            continue
        match = template.get("match")
        if match and "[" in match:
            new, k = _rewrite_pattern(match, key)
            if k:
                template.set("match", new)
                n += k
        for el in template.iter(f"{{{XSL}}}when", f"{{{XSL}}}if"):
            if _changes_context(el, template) or el.nsmap != root.nsmap:
                continue
            test = el.get("test") or ""
            if "../../../" in test:
                new, k = _rewrite_test(test, key)
                if k:
                    el.set("test", new)
                    n += k
    imports = [i for i, c in enumerate(root) if c.tag == f"{{{XSL}}}import"]
    at = imports[-1] + 1 if imports else 0  # xsl:import must stay first
    for (match, use), name in keys.items():
        decl = etree.Element(f"{{{XSL}}}key", name=name, match=match, use=use)
        decl.tail = "\n"
        root.insert(at, decl)
    return n


def _rewrite_pattern(match: str, key) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    alternatives = match.split("|")
    if any(a.count("[") != a.count("]") or "'" in a or '"' in a for a in alternatives):
        return match, 0
    out, n = [], 0
    for alt in alternatives:
        m = _GUARDED.fullmatch(alt)
        if m is None:
            out.append(alt)
            continue
        name, predicate, rest = m.groups()
        k = key(f"{name}[{predicate}]", "generate-id()")
        out.append(f" {name}[exists(key('{k}', generate-id()))]{rest} ")
        n += 1
    return "|".join(out).strip(), n


def _rewrite_test(test: str, key) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    code = code_indexes(test)
    if code is None:
        return test, 0
    out, pos, n = [], 0, 0
    for m in _UP_PATH.finditer(test):
        if m.start() not in code:
            continue
        ups, names = m.group(1), m.group(2)
        steps = names.count("/") + 1
        k = key(names, f"generate-id({'/'.join(['..'] * steps)})")
        target = "/".join([".."] * (len(ups) // 3))
        out += [test[pos : m.start()], f"key('{k}', generate-id({target}))"]
        pos = m.end()
        n += 1
    out.append(test[pos:])
    return "".join(out), n


def _changes_context(el: etree._Element, template: etree._Element) -> bool:
    parent = el.getparent()
    while parent is not None and parent is not template:
        if parent.tag in _CONTEXT_CHANGERS:
            return True
        parent = parent.getparent()
    return False
