"""Does a value fit its column? The one check every stored string passes at the edge.

Why: SQLite stores a 5,000-character ``cbc:ID`` in a ``VARCHAR(200)``, a NUL and a lone
surrogate without complaint; PostgreSQL refuses all three, and the refusal surfaced as a 500 on
REST, a 451 forever on SMTP (every retry storing the mail's other invoices again) and a 503 on
AS4 (the sending AP retrying). So what would break the database is refused before it gets
there, with the name of the field, and the same on every database.

The lengths are read from the SQLAlchemy columns themselves, so a column that grows or shrinks
in a migration needs no second edit here. Free-text channel facts (e-mail subjects, file names in
JSON metadata) are informational and never worth refusing a document for: :func:`clean_json`
replaces what PostgreSQL cannot hold instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import String

#: C0 controls except TAB/LF/CR, DEL, and C1 controls: never meaningful in stored text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x85]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: What :func:`clean_json` puts in place of a character PostgreSQL cannot store.
REPLACEMENT = "\ufffd"


class FieldRejected(ValueError):
    """``field`` cannot be stored: ``why`` says what is wrong with it (for the sender)."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field} {why}")
        self.field = field
        self.why = why
        #: Which of several documents submitted together it was (set by the intake).
        self.index: int | None = None


def text_fault(
    value: str, max_length: int | None = None, *, single_line: bool = True
) -> str | None:
    """Why ``value`` cannot be stored as text (None when it can).

    ``single_line`` also refuses CR/LF (identifiers, codes, query parameters: a line break in
    one ends up in a header or a log line); free text (reasons) may have line breaks.
    """
    if max_length is not None and len(value) > max_length:
        return f"is longer than {max_length} characters ({len(value)})"
    if "\x00" in value:
        return "contains a NUL character"
    if _SURROGATE.search(value):
        return "contains a lone surrogate (not valid Unicode)"
    if single_line and _LINE_BREAK.search(value):
        return "contains a line break"
    if _CONTROL.search(value):
        return "contains a control character"
    return None


def check_text(
    field: str, value: str, max_length: int | None = None, *, single_line: bool = True
) -> str:
    """``value`` unchanged, or :class:`FieldRejected` naming ``field``."""
    fault = text_fault(value, max_length, single_line=single_line)
    if fault is not None:
        raise FieldRejected(field, fault)
    return value


@functools.cache
def column_lengths(model: Any) -> dict[str, int | None]:
    """Attribute name -> maximum length (None: unbounded text) of every string column.
    Computed once per model (every stored document's record is checked against it); the
    dict is shared: read it, do not change it."""
    out: dict[str, int | None] = {}
    for attr in model.__mapper__.column_attrs:
        column = attr.columns[0]
        if isinstance(column.type, String):
            out[attr.key] = column.type.length
    return out


def check_row(
    model: Any,
    values: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
    multiline: Iterable[str] = (),
) -> None:
    """Refuse the first string value of ``values`` that does not fit ``model``'s column.

    ``names`` maps attributes to the names the sender knows (``number`` -> ``cbc:ID``);
    ``multiline`` lists free-text attributes that may hold line breaks.
    """
    lengths = column_lengths(model)
    free = set(multiline)
    names = names or {}
    for key, value in values.items():
        if key not in lengths or not isinstance(value, str):
            continue
        fault = text_fault(value, lengths[key], single_line=key not in free)
        if fault is not None:
            raise FieldRejected(names.get(key, key), fault)


def clean_json(value: Any) -> Any:
    """``value`` with NULs and lone surrogates in strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, Mapping):
        return {_clean(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def _clean(text: str) -> str:
    if "\x00" not in text and not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(REPLACEMENT, text.replace("\x00", REPLACEMENT))
