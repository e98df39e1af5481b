"""Query parameters declared per route, parsed strictly: an unknown name or a bad value is a 400.

Why declared: ``?status=bogus`` used to answer an empty list and ``?number=`` was silently
ignored, so a client's typo looked like "no such documents". A route lists its parameters once
as a :class:`Params`; :meth:`Params.parse` refuses unknown names (``unknown-parameter``) and
bad values (``invalid-parameter``), both naming the parameter, and the OpenAPI description is
built from the same declaration (so it cannot drift from what the handler accepts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.store import text_fault
from gateway.web.problems import Problem

MAX_INT = 2**63 - 1  # the database's BIGINT; larger cursors are refused, not overflowed
MAX_TEXT = 200


def invalid(name: str, detail: str, **extra: Any) -> Problem:
    return Problem(400, "invalid-parameter", f"{name}: {detail}", parameter=name, **extra)


@dataclass(frozen=True)
class Param:
    """One query parameter. ``kind`` is ``int``, ``text``, ``choice``, ``date``, ``datetime``
    or ``bool``; ``choices`` may be a callable so the set can follow registered models."""

    name: str
    kind: str = "text"
    description: str = ""
    default: Any = None
    minimum: int = 0
    maximum: int = MAX_INT
    max_length: int = MAX_TEXT
    choices: Iterable[str] | Callable[[], Iterable[str]] | None = None

    def allowed(self) -> list[str]:
        values = self.choices() if callable(self.choices) else (self.choices or ())
        return sorted(set(values))

    def convert(self, raw: str) -> Any:
        # The check every stored string passes (gateway.store.fit): length, NUL, lone
        # surrogates, line breaks and control characters, named in the answer.
        fault = text_fault(raw, max(self.max_length, 32))
        if fault is not None:
            raise invalid(self.name, f"{fault}.", reason=fault)
        return getattr(self, f"_{self.kind}")(raw)

    def _text(self, raw: str) -> str:
        if not raw.strip() or any(ord(c) < 32 for c in raw):
            raise invalid(self.name, "must be non-empty text without control characters.")
        return raw.strip()

    def _int(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise invalid(self.name, "must be an integer.") from None
        if not self.minimum <= value <= self.maximum:
            raise invalid(self.name, f"must be between {self.minimum} and {self.maximum}.")
        return value

    def _choice(self, raw: str) -> str:
        allowed = self.allowed()
        if raw not in allowed:
            raise invalid(
                self.name, f"'{raw}' is not one of {', '.join(allowed)}.", allowed=allowed
            )
        return raw

    def _bool(self, raw: str) -> bool:
        if raw.lower() in {"true", "1", "yes"}:
            return True
        if raw.lower() in {"false", "0", "no"}:
            return False
        raise invalid(self.name, "must be true or false.")

    def _date(self, raw: str) -> dt.date:
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise invalid(self.name, "must be a date (YYYY-MM-DD).") from None

    def _datetime(self, raw: str) -> dt.datetime:
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise invalid(self.name, "must be an ISO 8601 timestamp.") from None
        if value.tzinfo is None:
            raise invalid(self.name, "must carry a time zone (e.g. 2026-01-31T12:00:00Z).")
        return value


def cursor(description: str = "Opaque position returned as next_cursor.") -> Param:
    return Param("cursor", "int", description, default=0)


def limit(default: int = 50, maximum: int = 200) -> Param:
    return Param("limit", "int", f"Page size (1-{maximum}).", default, 1, maximum)


@dataclass(frozen=True)
class Params:
    """The full set of query parameters a route accepts."""

    params: tuple[Param, ...] = field(default_factory=tuple)

    def __init__(self, *params: Param) -> None:
        object.__setattr__(self, "params", params)

    def parse(self, query: web.Request | Mapping[str, str]) -> dict[str, Any]:
        """Every declared name (default when absent); 400 for unknown names or bad values.
        An empty value (``?status=``) counts as absent."""
        if isinstance(query, web.Request):
            query = query.query
        by_name = {p.name: p for p in self.params}
        unknown = sorted({k for k in query if k not in by_name})
        if unknown:
            raise Problem(
                400,
                "unknown-parameter",
                f"Unknown query parameter {', '.join(unknown)}; "
                f"this route accepts: {', '.join(by_name) or 'none'}.",
                parameter=unknown[0],
                accepted=list(by_name),
            )
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in query:
                values: list[str] = []
            else:
                values = query.getall(p.name) if hasattr(query, "getall") else [query[p.name]]
            if len(values) > 1:
                raise invalid(p.name, "give it once.")
            out[p.name] = p.convert(values[0]) if values and values[0] != "" else p.default
        return out


def int_param(value: str, name: str) -> int:
    """A non-negative integer (up to :data:`MAX_INT`) from one raw value, or 400."""
    return Param(name, "int").convert(value)


def number_id(raw: str) -> int | None:
    """The number a row is known by (a delivery's, from a path or a form), or None when
    ``raw`` is not one: ASCII digits only, up to :data:`MAX_INT`. (``str.isdigit`` also takes
    ``"³"``, which ``int`` refuses: such an id answered 500.)"""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if value <= MAX_INT else None
