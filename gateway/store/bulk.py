"""Inserting many rows of one model at once (filling a store for capacity tests).

Why: a store of 10M documents has to be filled in minutes, not hours. The ORM's unit of work
costs ~100 us a row in Python; PostgreSQL's ``COPY`` (asyncpg's binary copy) takes rows as
tuples at a few microseconds each, and SQLite's ``executemany`` is one call per batch. Rows are
given as ORM attribute values (what the record builders produce); column defaults (ids,
timestamps) are applied as an ORM insert would apply them. Nothing here commits: the rows join
the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON, insert, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_rows(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (attribute name -> value) into ``model``'s table in ``session``."""
    if not rows:
        return
    conn = await session.connection()
    if conn.dialect.name != "postgresql":
        await session.execute(insert(model.__table__), [_columns(model, row) for row in rows])
        return
    # The driver joins the transaction only once a statement ran in it (asyncpg's adapter
    # begins lazily), so make sure it did before copying on the raw connection.
    await conn.execute(text("SELECT 1"))
    layout = _layout(model)
    records = [tuple(get(row) for get in layout.getters) for row in rows]
    raw = await conn.get_raw_connection()
    try:
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            layout.table, columns=layout.columns, records=records
        )
    except Exception as exc:  # the driver's own error, as SQLAlchemy would have raised it
        if any(c.__name__ == "IntegrityConstraintViolationError" for c in type(exc).__mro__):
            raise IntegrityError(f"COPY {layout.table}", None, exc) from exc
        raise


def _columns(model: Any, row: dict[str, Any]) -> dict[str, Any]:
    names = _names(model)
    return {names[key]: value for key, value in row.items()}


@cache
def _names(model: Any) -> dict[str, str]:
    """ORM attribute name -> column key (``Document.meta`` is the ``metadata`` column)."""
    return {attr.key: attr.columns[0].key for attr in inspect(model).column_attrs}


class _Layout:
    def __init__(self, model: Any) -> None:
        table = model.__table__
        self.table = table.name
        self.columns: list[str] = []
        self.getters: list[Any] = []
        for attr in inspect(model).column_attrs:
            column = attr.columns[0]
            if column.autoincrement is True or (
                column.primary_key and column.autoincrement == "auto" and _is_int(column)
            ):
                continue  # the sequence numbers them, in insertion order
            self.columns.append(column.name)
            self.getters.append(_getter(attr.key, column))


def _is_int(column: Any) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def _getter(key: str, column: Any) -> Any:
    default = column.default
    is_json = isinstance(column.type, JSON)
    null = is_json and column.type.none_as_null  # else None is stored as JSON ``null``

    def get(row: dict[str, Any]) -> Any:
        if key in row:
            value = row[key]
        elif default is None:
            return None
        elif default.is_callable:
            value = default.arg(None)
        else:
            value = default.arg
        if is_json and not (value is None and null):
            return json.dumps(value)
        return value

    return get


@cache
def _layout(model: Any) -> _Layout:
    return _Layout(model)
