"""Which nodes' string values a stylesheet can read: a conservative static analysis.

Why: Saxon spends most of its parse time on large text nodes, and 30-40% of real invoices carry
an embedded attachment (a base64 PDF of 200-400 KB). If no expression in any of a scenario's
stylesheets can *atomize* (take the string value of) the attachment element, one of its
ancestors, or its text node, the rules cannot tell the real content from a short stand-in, and
Saxon can be given the stand-in (:mod:`.standin`). Existence, names, attributes, positions and
counts of nodes are unaffected by a stand-in, so only atomization matters.

The analysis runs over every XPath expression of the stylesheet (patterns, tests, selects,
attribute value templates) with ``elementpath``'s XPath 3.1 parser and an abstract value per
expression: the set of node kinds it may return, as keys

- ``{ns}local`` an element of that name, ``*:local`` of that local name in any namespace,
- ``*`` any element, ``/`` the document node,
- ``#text {ns}local`` / ``#text *:local`` / ``#text *`` text children of such elements.

An operation that atomizes a value (comparisons, arithmetic, string functions, ``value-of``,
casts, any function it does not know) records the value's keys. Anything the analysis does not
understand records ``*``, which turns the stand-in off: unknown means unsafe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:  # elementpath is imported when a stylesheet is analysed, not before
    from elementpath import XPathToken
    from elementpath.xpath31 import XPath31Parser

XSL = "http://www.w3.org/1999/XSL/Transform"
POSITIONS = "urn:einvoice-gateway:positions"  # :mod:`.positions` (a leaf: no import of it here)
ANY = "*"
DOC = "/"
TEXT = "#text "

Keys = frozenset[str]
NOTHING: Keys = frozenset()

# Functions that look at nodes without atomizing them; the value is atomic (or boolean).
_NON_ATOMIZING = {
    "not", "boolean", "exists", "empty", "count", "name", "local-name", "namespace-uri",
    "node-name", "position", "last", "true", "false", "generate-id", "has-children", "lang",
    "document-uri", "base-uri",
}  # fmt: skip
# Sequence functions that return (some of) their first argument unchanged.
_PASS_FIRST = {
    "exactly-one", "zero-or-one", "one-or-more", "head", "tail", "reverse", "subsequence",
    "remove", "unordered", "insert-before",
}  # fmt: skip
# Functions whose zero-argument form atomizes the context item.
_CONTEXT_ATOMIZING = {"string", "normalize-space", "string-length", "data", "number"}
_ATOMIZING_OPERATORS = {
    "=", "!=", "<", "<=", ">", ">=", "eq", "ne", "lt", "le", "gt", "ge",
    "+", "-", "*", "div", "idiv", "mod", "||", "to", "cast", "castable",
}  # fmt: skip
_BOOLEAN_OPERATORS = {"and", "or", "is", "<<", ">>", "instance"}
_UNION_OPERATORS = {"|", "union", "intersect", "except", ",", "("}
_NAMED_AXES = {
    "child", "descendant", "descendant-or-self", "following", "following-sibling", "preceding",
    "preceding-sibling", "self",
}  # fmt: skip
_UPWARD_AXES = {"parent", "ancestor", "ancestor-or-self"}


class Unknown(Exception):
    """A construct the analysis does not model; the caller records ``*``."""


@dataclass(frozen=True)
class Reads:
    """The node kinds whose string value a stylesheet may read, and what it did not model."""

    keys: Keys
    unknown: tuple[str, ...] = ()
    broad: tuple[str, ...] = ()

    def blind_to(self, leaf: etree._Element) -> bool:
        """True if no expression can read the text of ``leaf`` (a text-only element)."""
        if self.keys & {ANY, DOC, TEXT + ANY}:
            return False
        chain = list(_ancestors_or_self(leaf))
        if any(self._names(el, "") for el in chain):
            return False
        return not self._names(leaf, TEXT)

    def _names(self, el: etree._Element, kind: str) -> bool:
        q = etree.QName(el)
        if {f"{kind}{{{q.namespace or ''}}}{q.localname}", f"{kind}*:{q.localname}"} & self.keys:
            return True
        suffixes = (k[len(kind) + 1 :] for k in self.keys if k.startswith(f"{kind}~"))
        return any(q.localname.endswith(s) for s in suffixes)

    def __or__(self, other: Reads) -> Reads:
        return Reads(self.keys | other.keys, self.unknown + other.unknown, self.broad + other.broad)


def stylesheet_reads(root: etree._Element) -> Reads:
    """The analysis of one stylesheet (as Saxon will run it: after :mod:`.optimize`)."""
    walker = _Walker(root)
    walker.run()
    return Reads(frozenset(walker.atomized), tuple(walker.unknown), tuple(walker.broad))


def _ancestors_or_self(el: etree._Element) -> Iterable[etree._Element]:
    while el is not None:
        yield el
        el = el.getparent()


class _Walker:
    """Walks the stylesheet's instructions with variable scopes and context values."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.atomized: set[str] = set()
        self.unknown: list[str] = []
        self.broad: list[str] = []  # expressions that read any element or the whole document
        self.globals: dict[str, Keys] = {}
        #: xsl:key name -> what its match pattern selects (what ``key(name, ...)`` returns).
        self.keys: dict[str, Keys] = {}
        # The stylesheet's own functions: (prefix, name) -> declared result type ("" if none).
        self.functions = {
            tuple(f.get("name", "").split(":", 1)): f.get("as", "")
            for f in root.iter(f"{{{XSL}}}function")
            if ":" in f.get("name", "")
        }
        self._parsers: dict[tuple[tuple[str, str], ...], XPath31Parser] = {}

    def run(self) -> None:
        for el in self.root:
            if not isinstance(el.tag, str):
                continue
            if el.tag in (f"{{{XSL}}}variable", f"{{{XSL}}}param"):
                # A global variable's context item is the document node.
                self.globals[el.get("name", "")] = self._bind(el, {}, frozenset({DOC}))
        entered = _entered_modes(self.root)
        for el in self.root.iter(f"{{{XSL}}}key"):
            if el.getparent() is self.root:  # keys first: templates look them up
                context = self.expr(el, el.get("match"), {}, frozenset({ANY, DOC}))
                self.keys[el.get("name", "")] = context
        for el in self.root:
            if el.tag == f"{{{XSL}}}template":
                if not _modes(el) & entered:
                    continue  # never applied, e.g. a pattern :mod:`.native` took out
                everything = frozenset({ANY, DOC})
                context = everything
                if el.get("match"):
                    context = self.expr(el, el.get("match"), {}, everything)
                self.body(el, {}, context)
            elif el.tag == f"{{{XSL}}}function":
                # Parameters are checked at the call sites (a call atomizes its arguments).
                self.body(el, {p.get("name", ""): NOTHING for p in el}, NOTHING)
            elif el.tag == f"{{{XSL}}}key":
                context = self.expr(el, el.get("match"), {}, frozenset({ANY, DOC}))
                self.keys[el.get("name", "")] = context
                self.atomize(self.expr(el, el.get("use"), {}, context), f"xsl:key {el.get('use')}")

    def atomize(self, keys: Keys, where: str = "") -> None:
        self.atomized |= keys
        if keys & {ANY, DOC, TEXT + ANY}:
            self.broad.append(where)

    # -- instructions ----------------------------------------------------------------------
    def body(self, parent: etree._Element, scope: dict[str, Keys], context: Keys) -> None:
        scope = dict(scope)
        for el in parent:
            if not isinstance(el.tag, str):
                continue
            self.instruction(el, scope, context)

    def instruction(self, el: etree._Element, scope: dict[str, Keys], context: Keys) -> None:
        tag = el.tag
        if not tag.startswith(f"{{{XSL}}}"):
            for value in el.attrib.values():  # attribute value templates
                for part in _avt_expressions(value):
                    self.atomize(self.expr(el, part, scope, context), f"{{{part}}}")
            self.body(el, scope, context)
            return
        kind = tag[len(XSL) + 2 :]
        select = el.get("select")
        if kind in ("variable", "param"):
            scope[el.get("name", "")] = self._bind(el, scope, context)
        elif kind in ("if", "when"):
            self.expr(el, el.get("test"), scope, context)
            self.body(el, scope, context)
        elif kind in ("choose", "otherwise"):
            self.body(el, scope, context)
        elif kind in ("value-of", "message", "attribute", "element", "copy-of", "sequence",
                      "with-param", "number", "text", "comment", "processing-instruction",
                      ):  # fmt: skip
            # Output or parameters: whatever reaches them is read.
            self.atomize(self.expr(el, select, scope, context), f"xsl:{kind} {select}")
            for name in ("name", "namespace"):
                for part in _avt_expressions(el.get(name, "")):
                    self.atomize(self.expr(el, part, scope, context), f"{{{part}}}")
            self.body(el, scope, context)
        elif kind in ("apply-templates", "for-each"):
            # Visiting nodes reads nothing; the templates that match them are analysed
            # themselves. xsl:sort reads the selected nodes, xsl:with-param the context.
            inner = self.expr(el, select, scope, context) if select else frozenset({ANY})
            for child in el.iterchildren(f"{{{XSL}}}sort"):
                self.atomize(self.expr(child, child.get("select") or ".", scope, inner), "sort")
            for child in el.iterchildren(f"{{{XSL}}}with-param"):
                self.instruction(child, scope, context)
            if kind == "for-each":
                rest = [c for c in el if c.tag != f"{{{XSL}}}sort"]
                for child in rest:
                    if isinstance(child.tag, str):
                        self.instruction(child, scope, inner)
        elif kind in ("call-template", "fallback"):
            self.body(el, scope, context)
        else:
            self.unknown.append(f"xsl:{kind}")
            self.atomized.add(ANY)

    def _bind(self, el: etree._Element, scope: dict[str, Keys], context: Keys) -> Keys:
        if el.get("select") is not None:
            return self.expr(el, el.get("select"), scope, context)
        self.body(el, scope, context)
        return NOTHING  # a temporary tree built from instructions the walk has checked

    # -- expressions -----------------------------------------------------------------------
    def expr(
        self, el: etree._Element, text: str | None, scope: dict[str, Keys], context: Keys
    ) -> Keys:
        """The value of ``text`` evaluated in ``context``; atomizations are recorded."""
        if text is None or not text.strip():
            return NOTHING
        try:
            # XSLT's document('name') reads a named file as doc('name') does (elementpath
            # knows only the latter; a path step after an external function does not parse).
            token = self._parser(el).parse(_NAMED_DOCUMENT.sub(r"doc(\1)", text))
            evaluation = _Expression(self, el, {**self.globals, **scope}, text, context)
            return evaluation.value(token, context)
        except Unknown as exc:
            self.unknown.append(f"{text.strip()[:80]!r}: {exc}")
            self.atomized.add(ANY)
            return frozenset({ANY})
        except Exception as exc:  # a parse failure is a construct the analysis does not model
            self.unknown.append(f"{text.strip()[:80]!r}: {exc}")
            self.atomized.add(ANY)
            return frozenset({ANY})

    def _parser(self, el: etree._Element) -> XPath31Parser:
        """A parser with the element's namespaces, XSLT's ``current()`` and the stylesheet's
        own functions (which elementpath would otherwise refuse as unknown)."""
        namespaces = tuple(sorted((k, v) for k, v in el.nsmap.items() if k))
        if namespaces not in self._parsers:
            from elementpath.xpath31 import XPath31Parser

            # XPath's default collation is the codepoint one. elementpath would otherwise take
            # the process locale's (C.UTF-8 -> "...?lang=C"), and entering that collation while
            # folding constants at parse time fails, leaving its global lock held: the next
            # distinct-values() waited forever (the French Flux2 CII rules hung the engine).
            parser = XPath31Parser(
                namespaces=dict(namespaces), default_collation=CODEPOINT_COLLATION
            )
            parser.external_function(_no_arguments, name="current")
            parser.external_function(_any_arguments, name="key")  # XSLT's key() (keyed_paths)
            for prefix, name in self.functions:
                if prefix in parser.namespaces:
                    parser.external_function(_any_arguments, name=name, prefix=prefix)
            self._parsers[namespaces] = parser
        return self._parsers[namespaces]


CODEPOINT_COLLATION = "http://www.w3.org/2005/xpath-functions/collation/codepoint"
#: ``document('literal')`` (one literal argument), read as ``doc('literal')``.
_NAMED_DOCUMENT = re.compile(r"(?<![\w.:\-$])document\(\s*('[^']*'|\"[^\"]*\")\s*\)")


def _any_arguments(*args: object) -> None:
    """Stands for a stylesheet function in the parser; the analysis never evaluates it."""


def _no_arguments() -> None:
    """Stands for ``current()`` in the parser."""


def _modes(template: etree._Element) -> set[str]:
    return set((template.get("mode") or "#default").split())


def _entered_modes(root: etree._Element) -> set[str]:
    """Modes some ``apply-templates`` outside the mode's own templates enters (``#all`` and
    the default mode count as entered)."""
    entered = {"#all", "#default"}
    for call in root.iter(f"{{{XSL}}}apply-templates"):
        mode = call.get("mode") or "#default"
        template = next(call.iterancestors(f"{{{XSL}}}template"), None)
        if template is None or mode not in _modes(template) or mode == "#current":
            entered.add(mode)
    return entered


def _avt_expressions(value: str) -> list[str]:
    """The expressions inside an attribute value template (``{{`` escapes a brace)."""
    out: list[str] = []
    i = 0
    while i < len(value):
        if value.startswith("{{", i):
            i += 2
        elif value[i] == "{":
            end = value.find("}", i)
            if end < 0:
                raise Unknown("unbalanced attribute value template")
            out.append(value[i + 1 : end])
            i = end + 1
        else:
            i += 1
    return out


class _Expression:
    """The abstract evaluation of one parsed expression (see the module docstring)."""

    def __init__(
        self, walker: _Walker, el: etree._Element, scope: dict[str, Keys], text: str, current: Keys
    ) -> None:
        self.walker = walker
        self.text = " ".join(text.split())
        self.scope = scope
        self.namespaces = {k or "": v for k, v in el.nsmap.items()}
        self.current = current  # XSLT's current(): the context outside every predicate

    def atomize(self, keys: Keys) -> Keys:
        self.walker.atomize(keys, self.text)
        return NOTHING

    def value(self, t: XPathToken, context: Keys) -> Keys:
        symbol, n = t.symbol, len(t)
        label = str(t.label)
        if "function" in label and label != "kind test" and symbol not in ("(name)", ":"):
            return self.call(t, context)
        if symbol == "(name)":
            return frozenset({f"{{}}{t.value}"})
        if symbol in (":", "Q{"):
            return self.qualified(t, context)
        if symbol == "*" and n == 0:
            return frozenset({ANY})
        if symbol == ".":
            return context
        if symbol == "..":
            return frozenset({ANY, DOC})
        if symbol in ("/", "//"):
            # After "//" a step starts from any descendant: text() there is any element's text.
            below = frozenset({ANY}) if symbol == "//" else NOTHING
            if n == 0:
                return frozenset({DOC})
            if n == 1:
                return self.value(t[0], frozenset({DOC}) | below)
            return self.value(t[1], self.value(t[0], context) | below)
        if symbol == "!":
            return self.value(t[1], self.value(t[0], context))
        if symbol == "[":
            primary = self.value(t[0], context)
            self.value(t[1], primary)  # a boolean or a position: nothing is read by the filter
            return _narrowed(primary, t[1])
        if symbol == "@" or symbol == "attribute":
            return NOTHING
        if label == "axis":
            return self.axis(t, context)
        if label == "kind test":
            return self.kind(t, context)
        if label == "literal":
            return NOTHING
        if symbol == "$":
            if t.value not in self.scope:
                raise Unknown(f"variable ${t.value}")
            return self.scope[t.value]
        if symbol in _ATOMIZING_OPERATORS:
            for child in t:
                self.atomize(self.value(child, context))
            return NOTHING
        if symbol in _BOOLEAN_OPERATORS:
            for child in t[:1] if symbol == "instance" else t:
                self.value(child, context)
            return NOTHING
        if symbol == "treat":
            return self.value(t[0], context)
        if symbol in _UNION_OPERATORS:
            out: Keys = NOTHING
            for child in t:
                out |= self.value(child, context)
            return out
        if symbol == "if":
            self.value(t[0], context)
            return self.value(t[1], context) | self.value(t[2], context)
        if symbol in ("for", "let", "some", "every"):
            return self.binding(t, context)
        if symbol == "map":  # a map constructor of literals (optimize's code-list lookups)
            for child in t:
                self.atomize(self.value(child, context))
            return NOTHING
        raise Unknown(f"{symbol!r} ({label})")

    def qualified(self, t: XPathToken, context: Keys) -> Keys:
        last = t[1]
        if "function" in str(last.label):
            return self.call(last, context)
        if t.symbol == "Q{":
            namespace = t[0].value
        elif t[0].symbol == "*":
            return frozenset({f"*:{last.value}"})
        else:
            namespace = self.namespaces.get(t[0].value)
            if namespace is None:
                raise Unknown(f"prefix {t[0].value}")
        if last.symbol == "*":
            return frozenset({ANY})
        return frozenset({f"{{{namespace}}}{last.value}"})

    def axis(self, t: XPathToken, context: Keys) -> Keys:
        if t.symbol not in ("child", "self", "parent"):
            context = context | {ANY}  # the nodes reached may have any parent
        test = self.value(t[0], context) if len(t) else frozenset({ANY})
        if t.symbol in _UPWARD_AXES and (ANY in test or TEXT + ANY in test):
            return frozenset({ANY, DOC})
        if t.symbol == "self" and ANY in test:
            return context
        if t.symbol in _NAMED_AXES or t.symbol in _UPWARD_AXES:
            return test
        raise Unknown(f"axis {t.symbol}")

    def kind(self, t: XPathToken, context: Keys) -> Keys:
        if t.symbol == "text":
            return _text_of(context)
        if t.symbol == "node":
            return frozenset({ANY}) | _text_of(context)
        if t.symbol == "element":
            return self.value(t[0], context) if len(t) else frozenset({ANY})
        if t.symbol == "document-node":
            return frozenset({DOC})
        if t.symbol in ("comment", "processing-instruction", "attribute"):
            return NOTHING  # a stand-in changes neither comments, PIs nor attributes
        raise Unknown(f"kind test {t.symbol}")

    def binding(self, t: XPathToken, context: Keys) -> Keys:
        children = list(t)
        saved = dict(self.scope)
        try:
            for var, source in zip(children[:-1:2], children[1:-1:2], strict=True):
                self.scope[var.value] = self.value(source, context)
            result = self.value(children[-1], context)
        finally:
            self.scope = saved
        return NOTHING if t.symbol in ("some", "every") else result

    def call(self, t: XPathToken, context: Keys) -> Keys:
        name, args = t.symbol, list(t)
        if name == "current" and not args:
            return self.current
        if name == "key" and args and args[0].symbol == "(string)":
            # key('k', ...) returns nodes the key's match pattern selects: the walker has seen
            # every xsl:key of the stylesheet before any template (``run``).
            selected = self.walker.keys.get(str(args[0].value))
            if selected is not None:
                for a in args[1:]:
                    self.value(a, context)
                return selected
        if name == "doc" and len(args) == 1 and args[0].symbol == "(string)":
            # A document named by a literal (the Factur-X code databases, bound to files of the
            # stylesheet's folder) is never the input: nothing read through it is the input's.
            return NOTHING
        if name in ("root", "key", "id", "element-with-id"):
            for a in args:
                self.value(a, context)
            return frozenset({ANY, DOC})
        if name in _NON_ATOMIZING:
            for a in args:
                self.value(a, context)
            return NOTHING
        if name in _PASS_FIRST and args:
            first = self.value(args[0], context)
            for a in args[1:]:
                self.atomize(self.value(a, context))
            return first
        if name in _CONTEXT_ATOMIZING and not args:
            return self.atomize(context)
        if getattr(t, "namespace", None) == POSITIONS:
            # :mod:`.positions`' functions compare node identity and document order and read
            # names only: they atomize nothing and return an integer.
            for a in args:
                self.value(a, context)
            return NOTHING
        flowing: Keys = NOTHING
        for a in args:
            value = self.value(a, context)
            self.atomize(value)
            flowing |= value
        if "external" in str(t.label):  # one of the stylesheet's functions
            declared = [v for (_, n), v in self.walker.functions.items() if n == name]
            if declared and all(_atomic(v) for v in declared):
                return NOTHING
            return frozenset({ANY, DOC})  # it may return any node of the document
        types = getattr(t, "sequence_types", ())
        return NOTHING if types and _atomic(types[-1]) else flowing


def _text_of(context: Keys) -> Keys:
    """The text children of the elements in ``context``."""
    return frozenset(TEXT + k for k in context if not k.startswith(TEXT) and k != DOC)


def _atomic(sequence_type: str) -> bool:
    return sequence_type.startswith("xs:") or sequence_type == "empty-sequence()"


def _narrowed(primary: Keys, predicate: XPathToken) -> Keys:
    """``*[ends-with(name(), 'Amount') and ...]`` selects only names ending in ``Amount``."""
    if ANY not in primary:
        return primary
    for conjunct in _conjuncts(predicate):
        if conjunct.symbol == "ends-with" and len(conjunct) == 2:
            subject, suffix = conjunct[0], conjunct[1]
            if (
                subject.symbol in ("name", "local-name")
                and len(subject) == 0
                and suffix.symbol == "(string)"
                and ":" not in suffix.value
            ):
                return (primary - {ANY}) | {f"~{suffix.value}"}
    return primary


def _conjuncts(t: XPathToken) -> list[XPathToken]:
    if t.symbol == "and":
        return _conjuncts(t[0]) + _conjuncts(t[1])
    if t.symbol == "(" and len(t) == 1:
        return _conjuncts(t[0])
    return [t]
