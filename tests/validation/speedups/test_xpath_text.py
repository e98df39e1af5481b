"""The shared XPath text scanner (:mod:`gateway.validation.speedups.xpath_text`)."""

from __future__ import annotations

import pytest

from gateway.validation.speedups.xpath_text import (
    OpenQuote,
    alternatives,
    closing,
    code,
    code_indexes,
    last_step,
    top_level,
    without_predicates,
)


def test_code_skips_literals_of_both_quotes() -> None:
    expr = "a = 'x[y' or b = \"(z\""
    assert "".join(c for _, c in code(expr)) == "a =  or b = "
    assert code_indexes(expr) == {i for i, _ in code(expr)}
    with pytest.raises(OpenQuote):
        list(code("a = 'open"))
    assert code_indexes("a = 'open") is None


def test_alternatives_split_only_at_the_top_level() -> None:
    assert alternatives("a | b[c|d] | (e|f)/g | h['|']") == ["a", "b[c|d]", "(e|f)/g", "h['|']"]
    assert alternatives("a") == ["a"]
    assert alternatives("a['|") is None


def test_closing_finds_the_matching_bracket_past_literals() -> None:
    expr = "f(a[')'], (b))x"
    assert closing(expr, 1) == len(expr) - 2
    assert closing(expr, 3) == 7
    assert closing("f(a", 1) is None
    assert closing("f(')", 1) is None


def test_without_predicates_keeps_the_literals_outside_them() -> None:
    assert without_predicates("a[b = ']'][c[1]]/d | 'e'/f") == "a/d | 'e'/f"
    assert without_predicates("a[b") is None
    assert without_predicates("a]b") is None
    assert without_predicates("a['b") is None


def test_top_level_drops_every_bracketed_part_and_literal() -> None:
    assert top_level("x = 'a' and f(y[1]) != z") == "x =  and f != z"
    assert top_level("x[") is None


def test_last_step_is_after_the_last_top_level_slash() -> None:
    assert last_step("/a/b[c/d]/e") == "e"
    assert last_step("a/b[c/d]") == "b[c/d]"
    assert last_step("a/f(g/h)") == "f(g/h)"
