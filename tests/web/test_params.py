"""Declared query parameters: unknown names and bad values are refused, naming the parameter."""

from __future__ import annotations

import datetime as dt

import pytest
from multidict import MultiDict

from gateway.web import Param, Params, Problem, cursor, limit, number_id

BIGINT = 2**63 - 1  # the database's

SPEC = Params(
    cursor(),
    limit(),
    Param("status", "choice", choices=lambda: ["received", "invalid"]),
    Param("number", "text"),
    Param("issued_from", "date"),
    Param("since", "datetime"),
)


def _refusal(query: dict[str, str] | MultiDict[str]) -> Problem:
    with pytest.raises(Problem) as info:
        SPEC.parse(MultiDict(query))
    return info.value


def test_defaults_and_values() -> None:
    got = SPEC.parse(MultiDict({"status": "invalid", "limit": "7", "issued_from": "2026-01-31"}))
    assert got == {
        "cursor": 0,
        "limit": 7,
        "status": "invalid",
        "number": None,
        "issued_from": dt.date(2026, 1, 31),
        "since": None,
    }
    assert SPEC.parse(MultiDict({"status": ""}))["status"] is None  # empty counts as absent


def test_unknown_parameter_is_named() -> None:
    p = _refusal({"numbr": "INV-1"})
    assert (p.status, p.code, p.extra["parameter"]) == (400, "unknown-parameter", "numbr")
    assert "number" in p.extra["accepted"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"status": "bogus"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": str(2**63)}, "cursor"),
        ({"cursor": "-1"}, "cursor"),
        ({"cursor": "x"}, "cursor"),
        ({"issued_from": "31.01.2026"}, "issued_from"),
        ({"since": "2026-01-31T10:00:00"}, "since"),  # no time zone
        ({"number": "a\x00b"}, "number"),
        ({"number": "x" * 201}, "number"),
    ],
)
def test_bad_values_are_named(query: dict[str, str], name: str) -> None:
    p = _refusal(query)
    assert (p.status, p.code, p.extra["parameter"]) == (400, "invalid-parameter", name)
    assert p.detail.startswith(f"{name}: ")


def test_repeated_parameter_is_refused() -> None:
    p = _refusal(MultiDict([("status", "received"), ("status", "invalid")]))
    assert p.extra["parameter"] == "status"


def test_choice_lists_what_is_allowed() -> None:
    assert _refusal({"status": "bogus"}).extra["allowed"] == ["invalid", "received"]


def test_admin_never_implies_operator() -> None:
    from aiohttp.test_utils import make_mocked_request

    from gateway.web import PRINCIPAL, Principal, require

    request = make_mocked_request("GET", "/v1/admin/peppol-reports")
    request[PRINCIPAL] = Principal("k1", "acme", frozenset({"admin"}))
    assert require(request, "read").tenant == "acme"
    with pytest.raises(Problem) as info:
        require(request, "operator")
    assert (info.value.status, info.value.extra["required_scope"]) == (403, "operator")
    request[PRINCIPAL] = Principal("k2", "operator", frozenset({"operator"}))
    assert require(request, "operator").key_id == "k2"


def test_number_id_takes_ascii_digits_up_to_bigint_only() -> None:
    """A row's number from a path or form: a superscript three and an Arabic-Indic one are
    digits to ``str.isdigit`` (``int`` takes the latter), but no delivery has such a number;
    nor a number beyond the database's BIGINT."""
    assert number_id("42") == 42
    assert number_id(str(BIGINT)) == BIGINT
    for raw in ("", "\u00b3", "\u0661\u0662", "+1", " 1", "1_0", "x1", str(BIGINT + 1), "9" * 40):
        assert number_id(raw) is None, raw
