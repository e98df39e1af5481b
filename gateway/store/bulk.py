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

from sqlalchemy import JSON, event, insert, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

#: ``session.info`` key of the rows :func:`insert_at_commit` holds until the commit.
_AT_COMMIT = "gateway.store.at_commit"


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


async def insert_few(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the few rows of one write transaction in one statement, on every dialect.

    Why not the ORM (``session.add``): its flush inserts autoincrement rows one statement
    each on SQLite (it wants their keys back and SQLite has no insert sentinel for them), and
    each statement is a hop to the driver's thread (~0.3 ms of CPU through aiosqlite). A Core
    executemany needs no keys back: one hop for all of them. (No ``COPY``: for a handful of
    rows its extra round trips cost more than they save.)"""
    if rows:
        await session.execute(insert(model.__table__), [_columns(model, row) for row in rows])


def insert_at_commit(session: AsyncSession, model: Any, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``model``'s table when ``session``'s transaction commits, together
    with every row held for that table (:func:`insert_few`: one statement, not one per row).

    For rows nothing reads back in the same transaction (e.g. the Peppol reporting row of each
    message of a group commit). They are inserted first thing in the commit, after a flush of
    the session's pending objects (their foreign keys may point at them), so they commit with
    everything else or not at all; a rollback drops them."""
    held = session.info.get(_AT_COMMIT)
    if held is None:
        held = session.info[_AT_COMMIT] = {}
        sync = session.sync_session
        event.listen(sync, "before_commit", _insert_held, once=True)
        event.listen(sync, "after_rollback", _drop_held, once=True)
    held.setdefault(model, []).append(row)


def _insert_held(sync_session: Any) -> None:
    # Runs inside the async session's greenlet (as its own flush does): sync calls are fine.
    held = sync_session.info.pop(_AT_COMMIT, None) or {}
    if held:
        sync_session.flush()
    for model, rows in held.items():
        sync_session.execute(insert(model.__table__), [_columns(model, row) for row in rows])


def _drop_held(sync_session: Any) -> None:
    sync_session.info.pop(_AT_COMMIT, None)


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
