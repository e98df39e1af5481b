"""``gateway db``, ``gateway keys``, ``gateway participants`` and ``gateway webhooks``.

All take the same ``--config`` as ``gateway serve``, so they act on the server's database.
On SQLite the schema is brought up to date automatically; on PostgreSQL an operator runs
``gateway db upgrade`` deliberately (several servers may share the database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.cli import UsageError

#: Kept here (not imported from the store) so ``gateway --help`` loads no SQLAlchemy.
TENANT_SCOPES = ["submit", "read", "status", "admin"]
OPERATOR_TENANT = "operator"

Body = Callable[[Any, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", metavar="CMD")
    p = db.add_parser("upgrade", help="apply Alembic migrations (PostgreSQL and SQLite)")
    p.set_defaults(handler=_run(_db_upgrade, migrate=False))
    p = db.add_parser("status", help="show pending migrations")
    p.set_defaults(handler=_run(_db_status, migrate=False))

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_cmd", metavar="CMD")
    p = keys.add_parser("create", help="create a key (printed once)")
    p.add_argument("--tenant", help="the key's tenant (optional with --operator)")
    p.add_argument("--scope", action="append", default=[], choices=TENANT_SCOPES)
    p.add_argument(
        "--operator",
        action="store_true",
        help="service-provider key: the 'operator' scope acts across tenants "
        f"(home tenant '{OPERATOR_TENANT}' unless --tenant is given)",
    )
    p.add_argument("--label")
    p.set_defaults(handler=_run(_keys_create))
    p = keys.add_parser("list", help="list keys (never the secrets)")
    p.add_argument("--tenant")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_run(_keys_list))
    p = keys.add_parser("revoke", help="revoke a key by id")
    p.add_argument("key_id")
    p.set_defaults(handler=_run(_keys_revoke))

    parts = sub.add_parser("participants", help="receiving participant ids of tenants")
    psub = parts.add_subparsers(dest="participants_cmd", metavar="CMD")
    p = psub.add_parser("add", help="route documents for SCHEME:ID to a tenant")
    p.add_argument("--tenant", required=True)
    p.add_argument("participant", metavar="SCHEME:ID")
    p.set_defaults(handler=_run(_participants_add))
    p = psub.add_parser("list")
    p.add_argument("--tenant")
    p.set_defaults(handler=_run(_participants_list))
    p = psub.add_parser("remove")
    p.add_argument("participant", metavar="SCHEME:ID")
    p.set_defaults(handler=_run(_participants_remove))

    hooks = sub.add_parser("webhooks", help="per-tenant forwarding webhook")
    hsub = hooks.add_subparsers(dest="webhooks_cmd", metavar="CMD")
    p = hsub.add_parser("set", help="set the URL; prints the new HMAC signing secret once")
    p.add_argument("--tenant", required=True)
    p.add_argument("url")
    p.set_defaults(handler=_run(_webhooks_set))
    p = hsub.add_parser("clear", help="stop webhook forwarding (the pull inbox stays)")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=_run(_webhooks_clear))


def _run(body: Body, *, migrate: bool = True) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        return asyncio.run(_with_db(body, args, migrate))

    return handler


async def _with_db(body: Body, args: argparse.Namespace, migrate: bool) -> int:
    from gateway.config import load_settings
    from gateway.store import Database
    from gateway.store.migrate import pending_heads, upgrade

    settings = load_settings(args.config)
    db = Database.from_settings(settings)
    try:
        if migrate:
            if db.is_sqlite:
                await upgrade(db.engine)
            elif await pending_heads(db.engine):
                raise UsageError("the database schema is not current; run `gateway db upgrade`")
        return await body(db, args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        await db.dispose()


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


async def _keys_create(db: Any, args: argparse.Namespace) -> int:
    from gateway.store import repo

    if not args.operator and (not args.tenant or not args.scope):
        raise UsageError("give --tenant and at least one --scope (or --operator)")
    tenant = args.tenant or OPERATOR_TENANT
    async with db.write() as s:
        key, plaintext = await repo.create_api_key(
            s, tenant, args.scope, args.label, operator=args.operator
        )
    print(plaintext)
    print(
        f"key id {key.id} for tenant {key.tenant}, scopes: {key.scopes} "
        "(store the key now; it is not shown again)",
        file=sys.stderr,
    )
    return 0


async def _keys_list(db: Any, args: argparse.Namespace) -> int:
    from gateway.store import repo

    async with db.read() as s:
        keys = await repo.list_api_keys(s, args.tenant)
    rows = [
        {
            "id": k.id,
            "tenant": k.tenant,
            "scopes": k.scopes,
            "label": k.label,
            "created_at": k.created_at.isoformat(),
            "revoked": k.revoked_at is not None,
        }
        for k in keys
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            state = "revoked" if r["revoked"] else "active"
            print(f"{r['id']}  {r['tenant']}  [{r['scopes']}]  {state}  {r['label'] or ''}")
    return 0


async def _keys_revoke(db: Any, args: argparse.Namespace) -> int:
    from gateway.store import repo

    async with db.write() as s:
        try:
            key = await repo.revoke_api_key(s, args.key_id)
        except repo.NotFound as exc:
            raise UsageError(str(exc)) from exc
    print(f"revoked {key.id} ({key.tenant})")
    return 0


async def _participants_add(db: Any, args: argparse.Namespace) -> int:
    # This handler is a composition root like `gateway serve`: it may use the intake's routing.
    from gateway.config import load_settings
    from gateway.forwarding import Forwarder
    from gateway.inbound.routing import route_for_participant
    from gateway.lifecycle import Cause, Lifecycle
    from gateway.lifecycle.vocabulary import ADMIN
    from gateway.store import repo

    async with db.write() as s:
        row = await repo.add_participant(s, args.tenant, args.participant)
        # Only writes delivery rows in this transaction; the running server sends them.
        forwarder = Forwarder(db, load_settings(args.config).webhooks)
        routed = await route_for_participant(
            s,
            row.tenant,
            row.id,
            lifecycle=Lifecycle(),
            forwarding=forwarder,
            cause=Cause("participants", role=ADMIN, actor="cli:participants add"),
        )
    print(f"{row.id} -> {row.tenant}")
    for r in routed:
        extra = f" (duplicate of {r.duplicate_of})" if r.duplicate_of else ""
        print(f"routed {r.document_id}: {r.previous} -> {r.status}{extra}", file=sys.stderr)
    if routed:
        print(f"{len(routed)} stranded document(s) routed to {row.tenant}", file=sys.stderr)
    return 0


async def _participants_list(db: Any, args: argparse.Namespace) -> int:
    from gateway.store import repo

    async with db.read() as s:
        for row in await repo.list_participants(s, args.tenant):
            print(f"{row.id}  {row.tenant}")
    return 0


async def _participants_remove(db: Any, args: argparse.Namespace) -> int:
    from gateway.store import repo

    async with db.write() as s:
        try:
            await repo.remove_participant(s, args.participant)
        except repo.NotFound as exc:
            raise UsageError(str(exc)) from exc
    print(f"removed {args.participant}")
    return 0


async def _webhooks_set(db: Any, args: argparse.Namespace) -> int:
    from gateway.store import repo

    if not args.url.startswith(("http://", "https://", "mailto:")):
        raise UsageError(
            "webhook URL must start with http:// or https:// (or mailto: to forward received "
            "invoices by e-mail through [email_out])"
        )
    async with db.write() as s:
        secret = await repo.set_webhook(s, args.tenant, args.url)
    print(secret)
    print(
        f"webhook for {args.tenant}: {args.url}; the line above is the HMAC-SHA256 secret "
        "(shown once)",
        file=sys.stderr,
    )
    return 0


async def _webhooks_clear(db: Any, args: argparse.Namespace) -> int:
    from gateway.store import repo

    async with db.write() as s:
        await repo.set_webhook(s, args.tenant, None)
    print(f"webhook cleared for {args.tenant}")
    return 0
