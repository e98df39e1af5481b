"""Document-wide lookups by a child's value answered through keys (one index per document).

Why: the EN 16931 rules on the invoice root ask, assert after assert, for every tax category
of a given code anywhere in the document - ``//cac:ClassifiedTaxCategory[normalize-space(
cbc:ID) = 'S']``, 24 times in the UBL rules - and each asks Saxon to test every line's
category again: on a 10,000-line invoice ~7 ms each. A key indexes them once per document.

The rewrite, in ``xsl:when``/``xsl:if`` tests: ``//E[normalize-space(C) = 'V']`` (E and C
element names, V a string literal, ``//`` starting an absolute path) becomes
``(if (exists(key('gw-lk-n-many', 0))) then ORIGINAL else key('gw-lk-n', 'V'))`` with
``<xsl:key name="gw-lk-n" match="E" use="normalize-space(C)"/>`` and
``<xsl:key name="gw-lk-n-many" match="E[count(C) gt 1]" use="0"/>``.

Why it is exact:
- Without an E holding two C children, ``normalize-space(C)`` is the string value of the one
  C (or "" without one) and never fails, and ``key('gw-lk-n', 'V')`` is exactly the E of the
  document whose value equals V (same codepoint comparison), in document order without
  duplicates - what the path selects. The key is built only when the ``else`` branch first
  asks for it.
- With such an E, the original path is evaluated unchanged (it raises its error, or not,
  as before); the guard's own pattern cannot fail.
- What may follow is unchanged except a predicate: ``//E[p1][p2]`` filters per parent, a
  filter on the parenthesised sequence filters the whole sequence, which differs only for a
  positional p2; so a following predicate must be a comparison (``=``/``!=`` outside
  brackets, no ``position``, ``last``, ``return``, ``satisfies``, ``then``), else the
  occurrence is left alone.
- ``//`` and ``key()`` both start from the root of the context node's tree, which is the
  validated document.

The second shape, the EN 16931 rules' "is this VAT category used anywhere" (BR-AE-01 and its
kin: six tests, four lookups each, ~7 ms a lookup on a 10,000-line invoice):
``//E[S/normalize-space(upper-case(T))='L']/C[normalize-space(.) = 'V']`` becomes
``(if (exists(key('gw-lk-n-many', 0)) or exists(key('gw-lk-s-m', 0))) then ORIGINAL else
key('gw-lk-n', 'V')[S/normalize-space(upper-case(T))='L']/C[normalize-space(.) = 'V'])``
with ``<xsl:key name="gw-lk-s-m" match="E[S[count(T) gt 1]]" use="0"/>``. Exact because:

- with at most one C per E, E has a C whose normalised value is V exactly when
  ``normalize-space(C)`` is V, i.e. when E is in ``key('gw-lk-n', 'V')``; so the E that
  pass the first filter and then yield a C are the same, and the C selected are the same;
- the original tests the predicate on every E, the rewrite only on the keyed ones, so the
  rewrite is taken only where the predicate cannot fail: ``upper-case`` fails on an S with
  two T children, and with one the original runs unchanged; ``normalize-space`` and ``=``
  never fail on nodes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from gateway.validation.speedups.native import XSL
from gateway.validation.speedups.xpath_text import closing, code_indexes, top_level

_QNAME = r"[A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*"
_LOOKUP = re.compile(
    rf"//(?P<e>{_QNAME})\[\s*normalize-space\(\s*(?P<c>{_QNAME})\s*\)\s*=\s*'(?P<v>[^']*)'\s*\]"
)
_CHILD_LOOKUP = re.compile(
    rf"//(?P<e>{_QNAME})\[\s*(?P<pred>(?P<s>{_QNAME})\s*/\s*normalize-space\(\s*upper-case\(\s*"
    rf"(?P<t>{_QNAME})\s*\)\s*\)\s*=\s*'[^']*')\s*\]\s*/\s*(?P<c>{_QNAME})\[\s*normalize-space\("
    rf"\s*\.\s*\)\s*=\s*'(?P<v>[^']*)'\s*\]"
)
#: The groups of a shape that are element names (their prefixes must mean the same at the top).
_NAMES = ("e", "c", "s", "t")
#: What may not precede an absolute ``//``: the end of a path, a name or a value ...
_AFTER_VALUE = re.compile(r"[\w.\-:)\]*/@$'\"]\s*$")
#: ... unless that name is an operator.
_OPERATOR = re.compile(
    r"(?:^|[^\w.\-:$])(?:and|or|eq|ne|lt|le|gt|ge|div|mod|idiv|return|then|else|satisfies"
    r"|in|union|intersect|except|to)\s+$"
)
_POSITIONAL = re.compile(r"position|last|return|satisfies|then|:=|\d")


class _Keys:
    """The keys the rewrites of one stylesheet use, declared at its top once each."""

    def __init__(self) -> None:
        self.lookups: dict[tuple[str, str], str] = {}  # (E, C) -> name
        self.guards: dict[tuple[str, str, str], str] = {}  # (E, S, T) -> name

    def lookup(self, element: str, child: str) -> str:
        return self.lookups.setdefault((element, child), f"gw-lk-{len(self.lookups)}")

    def guard(self, element: str, scheme: str, child: str) -> str:
        return self.guards.setdefault((element, scheme, child), f"gw-lk-s-{len(self.guards)}")

    def declare(self, root: etree._Element) -> None:
        decls = []
        for (element, child), name in self.lookups.items():
            decls.append((name, element, f"normalize-space({child})"))
            decls.append((f"{name}-many", f"{element}[count({child}) gt 1]", "0"))
        for (element, scheme, child), name in self.guards.items():
            decls.append((name, f"{element}[{scheme}[count({child}) gt 1]]", "0"))
        for key, match, use in decls:
            decl = etree.SubElement(root, f"{{{XSL}}}key", name=key, match=match, use=use)
            decl.tail = "\n"


def keyed_lookups(root: etree._Element) -> int:
    """Rewrite every such lookup in place; how many were."""
    keys = _Keys()
    n = 0
    for el in root.iter(f"{{{XSL}}}when", f"{{{XSL}}}if"):
        test = el.get("test")
        if not test or "normalize-space" not in test:
            continue
        new, k = _rewrite(test, el, root, _LOOKUP, lambda m: _lookup(m, keys))
        new, k2 = _rewrite(new, el, root, _CHILD_LOOKUP, lambda m: _child_lookup(m, keys))
        if k + k2:
            el.set("test", new)
            n += k + k2
    keys.declare(root)
    return n


def _lookup(m: re.Match[str], keys: _Keys) -> str:
    name = keys.lookup(m["e"], m["c"])
    return f"(if (exists(key('{name}-many', 0))) then {m[0]} else key('{name}', '{m['v']}'))"


def _child_lookup(m: re.Match[str], keys: _Keys) -> str:
    name, guard = keys.lookup(m["e"], m["c"]), keys.guard(m["e"], m["s"], m["t"])
    return (
        f"(if (exists(key('{name}-many', 0)) or exists(key('{guard}', 0))) then {m[0]} "
        f"else key('{name}', '{m['v']}')[{m['pred']}]/{m['c']}[normalize-space(.) = '{m['v']}'])"
    )


def _rewrite(
    test: str,
    el: etree._Element,
    root: etree._Element,
    shape: re.Pattern[str],
    replacement: Callable[[re.Match[str]], str],
) -> tuple[str, int]:
    out: list[str] = []
    pos = count = 0
    for m in shape.finditer(test):
        names = [m[g] for g in _NAMES if g in shape.groupindex]
        if (
            _in_literal(test, m.start())
            or (_AFTER_VALUE.search(test[: m.start()]) and not _OPERATOR.search(test[: m.start()]))
            or not _plain_follower(test, m.end())
            or not _same_scope(el, root, *names)
        ):
            continue
        out += [test[pos : m.start()], replacement(m)]
        pos = m.end()
        count += 1
    out.append(test[pos:])
    return "".join(out), count


def _in_literal(expr: str, at: int) -> bool:
    """Whether a string literal is open at ``at``."""
    return code_indexes(expr[:at]) is None


def _plain_follower(expr: str, end: int) -> bool:
    """No predicate follows, or only comparisons (see the module docstring)."""
    rest = expr[end:]
    while rest.lstrip().startswith("["):
        rest = rest.lstrip()
        close = closing(rest, 0)
        if close is None:
            return False
        predicate = top_level(rest[1:close])
        if predicate is None or "=" not in predicate or _POSITIONAL.search(predicate):
            return False
        rest = rest[close + 1 :]
    return True


def _same_scope(el: etree._Element, root: etree._Element, *names: str) -> bool:
    """The prefixes mean at the stylesheet's top (where the keys go) what they mean here."""
    for name in names:
        prefix = name.split(":", 1)[0]
        if el.nsmap.get(prefix) is None or el.nsmap.get(prefix) != root.nsmap.get(prefix):
            return False
    return True
