"""``gateway responses list|rematch|emit|email-trust`` for operators.

``list`` shows every tenant's responses, including those no tenant owns (unroutable), which
the per-tenant admin API cannot show; ``rematch`` runs the re-matching sweep once; ``emit``
switches sending Invoice Responses on or off for a tenant; ``email-trust`` shows or changes the
tenant's trusted e-mail senders (the ``email_trust`` setting of ``PUT /v1/admin/settings``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    cmds = sub.add_parser("responses", help="Peppol Invoice Responses (T111)").add_subparsers(
        dest="responses_cmd", metavar="CMD"
    )
    p = cmds.add_parser("list", help="received/sent responses as JSON lines")
    p.add_argument("--state", help="unmatched, waiting, conflict, refused, invalid, ...")
    p.add_argument("--tenant", help="only this tenant's responses")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(handler=lambda a: asyncio.run(_list(a)))
    p = cmds.add_parser("rematch", help="match unmatched responses again now")
    p.set_defaults(handler=lambda a: asyncio.run(_rematch(a)))
    p = cmds.add_parser("emit", help="send responses when TENANT changes a purchase invoice")
    p.add_argument("tenant")
    p.add_argument("switch", choices=["on", "off"])
    p.set_defaults(handler=lambda a: asyncio.run(_emit(a)))
    p = cmds.add_parser(
        "email-trust", help="TENANT's trusted e-mail senders (DKIM-signed mail is applied)"
    )
    p.add_argument("tenant")
    p.add_argument("--add", metavar="ADDRESS", help="trust responses mailed from ADDRESS")
    p.add_argument("--participant", default="", help="only for this participant id (--add)")
    p.add_argument("--remove", metavar="ADDRESS", help="trust ADDRESS no longer")
    p.set_defaults(handler=lambda a: asyncio.run(_email_trust(a)))


async def _db(args: argparse.Namespace) -> tuple[Any, Any]:
    from gateway.config import load_settings
    from gateway.store import Database, upgrade

    settings = load_settings(args.config)
    db = Database.from_settings(settings)
    if db.is_sqlite:
        await upgrade(db.engine)
    return settings, db


async def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from gateway.responses.api import response_entry
    from gateway.responses.models import InvoiceResponseRecord

    _, db = await _db(args)
    stmt = select(InvoiceResponseRecord).order_by(InvoiceResponseRecord.seq).limit(args.limit)
    if args.state:
        stmt = stmt.where(InvoiceResponseRecord.state == args.state)
    if args.tenant:
        stmt = stmt.where(InvoiceResponseRecord.tenant == args.tenant)
    try:
        async with db.read() as s:
            for rec in await s.scalars(stmt):
                print(json.dumps({"tenant": rec.tenant, **response_entry(rec)}))
    finally:
        await db.dispose()
    return 0


async def _rematch(args: argparse.Namespace) -> int:
    from gateway.forwarding import WebhookEvents
    from gateway.lifecycle import Lifecycle
    from gateway.responses.mapping import load_mapping
    from gateway.responses.service import ResponseService

    settings, db = await _db(args)
    try:
        mapping = load_mapping(settings.responses.mapping_file or None)
        lifecycle = Lifecycle(events=WebhookEvents())
        service = ResponseService(db, mapping, lifecycle=lifecycle)
        print(json.dumps({"changed": await service.sweep()}))
    finally:
        await db.dispose()
    return 0


async def _emit(args: argparse.Namespace) -> int:
    from gateway.responses.emit import set_emission

    _, db = await _db(args)
    try:
        async with db.write() as s:
            await set_emission(s, args.tenant, args.switch == "on")
    finally:
        await db.dispose()
    print(json.dumps({"tenant": args.tenant, "emit_responses": args.switch == "on"}))
    return 0


async def _email_trust(args: argparse.Namespace) -> int:
    from gateway.responses.settings import email_trust_of, set_email_trust

    _, db = await _db(args)
    try:
        async with db.write() as s:
            rules = await email_trust_of(s, args.tenant)
            if args.remove:
                rules = [r for r in rules if r["sender"] != args.remove.strip().lower()]
            if args.add:
                rules.append({"sender": args.add, "participant": args.participant})
            if args.add or args.remove:
                try:
                    rules = await set_email_trust(s, args.tenant, rules)
                except ValueError as exc:
                    print(f"gateway responses email-trust: {exc}", file=sys.stderr)
                    return 2
    finally:
        await db.dispose()
    print(json.dumps({"tenant": args.tenant, "email_trust": rules}))
    return 0
