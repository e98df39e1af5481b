"""``gateway db upgrade|status``: the database schema.

Takes the same ``--config`` as ``gateway serve``, so it acts on the server's database. On
SQLite the other commands bring the schema up to date automatically; on PostgreSQL an operator
runs ``gateway db upgrade`` deliberately (several servers may share the database). Tenants,
keys, participant ids and webhooks are ``gateway.admin``'s commands.
"""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli import with_database


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", metavar="CMD")
    p = db.add_parser("upgrade", help="apply Alembic migrations (PostgreSQL and SQLite)")
    p.set_defaults(handler=with_database(_db_upgrade, migrate=False))
    p = db.add_parser("status", help="show pending migrations")
    p.set_defaults(handler=with_database(_db_status, migrate=False))


async def _db_upgrade(db: Any, args: argparse.Namespace) -> int:
    from gateway.store.migrate import pending_heads, upgrade

    before = await pending_heads(db.engine)
    await upgrade(db.engine)
    print(f"applied: {', '.join(before)}" if before else "schema already current")
    return 0


async def _db_status(db: Any, args: argparse.Namespace) -> int:
    from gateway.store.migrate import pending_heads

    pending = await pending_heads(db.engine)
    print(f"pending: {', '.join(pending)}" if pending else "schema current")
    return 1 if pending else 0
