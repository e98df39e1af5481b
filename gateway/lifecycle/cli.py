"""``gateway tenants set-profile TENANT [--inbound ID] [--outbound ID]`` and ``tenants show``."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    tenants = sub.add_parser("tenants", help="per-tenant lifecycle settings (status profiles)")
    cmds = tenants.add_subparsers(dest="tenants_cmd", metavar="CMD")
    p = cmds.add_parser("set-profile", help="choose the status profile of each direction")
    p.add_argument("tenant")
    p.add_argument("--inbound", metavar="ID", help="profile of purchase documents")
    p.add_argument("--outbound", metavar="ID", help="profile of sales documents")
    p.set_defaults(handler=lambda a: asyncio.run(_set_profile(a)))
    p = cmds.add_parser("show", help="a tenant's profiles and webhook settings as JSON")
    p.add_argument("tenant")
    p.set_defaults(handler=lambda a: asyncio.run(_show(a)))
    p = cmds.add_parser("profiles", help="the available status profiles")
    p.set_defaults(handler=lambda a: asyncio.run(_profiles(a)))


async def _with_db(args: argparse.Namespace, work: Any) -> int:
    from gateway.config import load_settings
    from gateway.lifecycle import Lifecycle
    from gateway.store import Database
    from gateway.store.migrate import upgrade

    settings = load_settings(args.config)
    lifecycle = Lifecycle(profiles_dir=settings.lifecycle.profiles_dir or None)
    db = Database.from_settings(settings)
    try:
        if db.is_sqlite:
            await upgrade(db.engine)
        async with db.write() as s:
            return int(await work(lifecycle, s) or 0)
    finally:
        await db.dispose()


async def _set_profile(args: argparse.Namespace) -> int:
    from gateway.cli import UsageError
    from gateway.store import repo

    if not (args.inbound or args.outbound):
        raise UsageError("give --inbound ID and/or --outbound ID")

    async def work(lifecycle: Any, s: Any) -> int:
        await repo.ensure_tenant(s, args.tenant)
        try:
            out = await lifecycle.configure(
                s, args.tenant, inbound=args.inbound, outbound=args.outbound
            )
        except KeyError as exc:
            raise UsageError(exc.args[0]) from exc
        print(json.dumps(out))
        return 0

    return await _with_db(args, work)


async def _show(args: argparse.Namespace) -> int:
    async def work(lifecycle: Any, s: Any) -> int:
        print(json.dumps(await lifecycle.settings(s, args.tenant)))
        return 0

    return await _with_db(args, work)


async def _profiles(args: argparse.Namespace) -> int:
    from gateway.config import load_settings
    from gateway.lifecycle import Lifecycle

    settings = load_settings(args.config)
    for p in Lifecycle(profiles_dir=settings.lifecycle.profiles_dir or None).profiles.values():
        print(json.dumps({"id": p.id, "title": p.title, "source": p.source}))
    return 0
