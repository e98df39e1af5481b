"""The one bracket and quote scanner the stylesheet rewrites read XPath text with.

Why one: :mod:`.optimize`, :mod:`.walk`, :mod:`.absent`, :mod:`.keyed_paths` and
:mod:`.keyed_lookups` each had their own loop over an expression's characters, tracking
string literals and bracket depth slightly differently (one split alternatives without
knowing literals, so a ``|`` inside ``'a|b'`` would have split a pattern). Every rewrite's
exactness argument rests on reading the expression right, so they share this module; the
pinned stylesheets' prepared text is the same byte for byte as with the five loops.

XPath 2/3 string literals are ``'...'`` or ``"..."`` with the quote doubled inside; scanning
a doubled quote as the end of one literal and the start of the next gives the same split
between code and literal text, so no case needs more than "find the next quote".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

OPEN, CLOSE = "[(", "])"


class OpenQuote(ValueError):
    """An XPath expression with a quote that is never closed."""


def code(expr: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """(index, character) of every character of ``expr`` from ``start`` that is outside
    string literals; raises :class:`OpenQuote` at an unclosed quote."""
    i = start
    while i < len(expr):
        c = expr[i]
        if c in "'\"":
            close = expr.find(c, i + 1)
            if close < 0:
                raise OpenQuote(expr)
            i = close + 1
            continue
        yield i, c
        i += 1


def code_indexes(expr: str) -> set[int] | None:
    """Indexes of the characters outside string literals (None if a quote is unclosed)."""
    try:
        return {i for i, _ in code(expr)}
    except OpenQuote:
        return None


def closing(expr: str, start: int) -> int | None:
    """Index of the bracket closing the one at ``expr[start]`` (``[`` or ``(``), literals
    skipped; None if it is never closed."""
    depth = 0
    try:
        for i, c in code(expr, start):
            if c in OPEN:
                depth += 1
            elif c in CLOSE:
                depth -= 1
                if depth == 0:
                    return i
    except OpenQuote:
        return None
    return None


def alternatives(pattern: str) -> list[str] | None:
    """The pattern's top-level ``|`` alternatives, stripped (brackets and literals kept
    whole); None if a quote is unclosed."""
    cuts, closed = _top_level(pattern, "|")
    if not closed:
        return None
    bounds = [-1, *cuts, len(pattern)]
    return [pattern[a + 1 : b].strip() for a, b in itertools.pairwise(bounds)]


def without_predicates(text: str) -> str | None:
    """``text`` without its predicates (``[...]``, nested ones inside), string literals
    outside them kept; None if a bracket or quote is unbalanced."""
    out: list[str] = []
    depth, last = 0, -1
    try:
        for i, c in code(text):
            if depth == 0:
                out.append(text[last + 1 : i])  # a literal skipped since the last character
            last = i
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth < 0:
                    return None
            elif depth == 0:
                out.append(c)
    except OpenQuote:
        return None
    out.append(text[last + 1 :])
    return "".join(out) if depth == 0 else None


def top_level(text: str) -> str | None:
    """``text`` at its own top level: string literals and bracketed parts (``[...]``,
    ``(...)``) removed; None if unbalanced."""
    out: list[str] = []
    depth = 0
    try:
        for _, c in code(text):
            if c in OPEN:
                depth += 1
            elif c in CLOSE:
                depth -= 1
            elif depth == 0:
                out.append(c)
    except OpenQuote:
        return None
    return "".join(out) if depth == 0 else None


def last_step(path: str) -> str:
    """The path's last step (after its last top-level ``/``), stripped."""
    cuts, _ = _top_level(path, "/")
    return path[cuts[-1] + 1 if cuts else 0 :].strip()


def _top_level(text: str, separator: str) -> tuple[list[int], bool]:
    """Where ``separator`` occurs outside brackets and string literals, and whether every
    quote was closed (if not, the places found before the open quote)."""
    found, depth = [], 0
    try:
        for i, c in code(text):
            if c in OPEN:
                depth += 1
            elif c in CLOSE:
                depth -= 1
            elif c == separator and depth == 0:
                found.append(i)
    except OpenQuote:
        return found, False
    return found, True
