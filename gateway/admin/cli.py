"""``gateway tenants|keys|participants|webhooks ...``: the management functions of
:mod:`gateway.admin` on the command line (the API and the console call the same functions).

All take the same ``--config`` as ``gateway serve`` and act on the server's database; the CLI
acts as the service provider (it may mint operator keys and add participant ids). A running
server sees new rows at once, revoked keys within its key cache's 5 s, redeliveries within 5 s.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.cli import UsageError, with_database

#: Kept here (not imported from the store) so ``gateway --help`` loads no SQLAlchemy.
TENANT_SCOPES = ["submit", "read", "status", "admin"]
OPERATOR_TENANT = "operator"

Body = Callable[[Any, argparse.Namespace], Awaitable[int]]


def _command(body: Body) -> Callable[[argparse.Namespace], int]:
    """``body`` on the server's database; a refusal is a usage error with its sentence."""

    @functools.wraps(body)
    async def refusals(db: Any, args: argparse.Namespace) -> int:
        from gateway.admin import Refused

        try:
            return await body(db, args)
        except Refused as exc:
            raise UsageError(str(exc)) from exc

    return with_database(refusals)


def _out(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _rows(rows: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]) -> int:
    """A listing: the JSON the API answers with ``--json``, else one line per row."""
    if as_json:
        _out(rows)
        return 0
    for row in rows:
        print(line(row))
    return 0


def _lifecycle(args: argparse.Namespace) -> Any:
    from gateway.config import load_settings
    from gateway.lifecycle import Lifecycle
    from gateway.responses import attach

    lifecycle = Lifecycle(profiles_dir=load_settings(args.config).lifecycle.profiles_dir or None)
    attach(lifecycle)  # a routed Invoice Response is left pending, for the server to judge
    return lifecycle


def register(sub: argparse._SubParsersAction) -> None:
    _register_tenants(sub)
    _register_keys(sub)
    _register_participants(sub)
    _register_webhooks(sub)


# --- tenants -----------------------------------------------------------------------------------


def _register_tenants(sub: argparse._SubParsersAction) -> None:
    cmds = sub.add_parser("tenants", help="tenants and their settings").add_subparsers(
        dest="tenants_cmd", metavar="CMD"
    )
    p = cmds.add_parser("list", help="every tenant with its counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_command(_tenants_list))
    p = cmds.add_parser("create", help="create a tenant")
    p.add_argument("tenant")
    p.set_defaults(handler=_command(_tenants_create))
    p = cmds.add_parser("show", help="a tenant's participants, keys, webhook, settings (JSON)")
    p.add_argument("tenant")
    p.set_defaults(handler=_command(_tenants_show))
    p = cmds.add_parser("delete", help="delete a tenant that never had documents")
    p.add_argument("tenant")
    p.set_defaults(handler=_command(_tenants_delete))
    p = cmds.add_parser("set-profile", help="choose the status profile of each direction")
    p.add_argument("tenant")
    p.add_argument("--inbound", metavar="ID", help="profile of purchase documents")
    p.add_argument("--outbound", metavar="ID", help="profile of sales documents")
    p.set_defaults(handler=_command(_tenants_set_profile))
    p = cmds.add_parser("profiles", help="the available status profiles")
    p.set_defaults(handler=_profiles)


async def _tenants_list(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import list_tenants

    async with db.read() as s:
        rows = await list_tenants(s)
    return _rows(
        rows,
        args.json,
        lambda r: (
            f"{r['name']}  participants={r['participants']}  keys={r['active_keys']}  "
            f"{r['webhook_url'] or '-'}"
        ),
    )


async def _tenants_create(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import create_tenant

    async with db.write() as s:
        row = await create_tenant(s, args.tenant)
    print(f"created tenant {row['name']}")
    return 0


async def _tenants_show(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import show_tenant

    async with db.read() as s:
        _out(await show_tenant(s, _lifecycle(args), args.tenant))
    return 0


async def _tenants_delete(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import delete_tenant

    async with db.write() as s:
        keys = await delete_tenant(s, args.tenant)
    print(f"deleted tenant {args.tenant} ({len(keys)} key(s) with it)")
    return 0


async def _tenants_set_profile(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import put_settings

    if not (args.inbound or args.outbound):
        raise UsageError("give --inbound ID and/or --outbound ID")
    profile = {k: v for k, v in (("inbound", args.inbound), ("outbound", args.outbound)) if v}
    async with db.write() as s:
        out = await put_settings(s, _lifecycle(args), args.tenant, {"status_profile": profile})
    print(json.dumps(out))
    return 0


def _profiles(args: argparse.Namespace) -> int:
    for p in _lifecycle(args).profiles.values():
        print(json.dumps({"id": p.id, "title": p.title, "source": p.source}))
    return 0


# --- keys --------------------------------------------------------------------------------------


def _register_keys(sub: argparse._SubParsersAction) -> None:
    cmds = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_cmd", metavar="CMD")
    p = cmds.add_parser("create", help="create a key (printed once)")
    p.add_argument("--tenant", help="the key's tenant (optional with --operator)")
    p.add_argument("--scope", action="append", default=[], choices=TENANT_SCOPES)
    p.add_argument(
        "--operator",
        action="store_true",
        help="service-provider key: the 'operator' scope acts across tenants "
        f"(home tenant '{OPERATOR_TENANT}' unless --tenant is given)",
    )
    p.add_argument("--label")
    p.set_defaults(handler=_command(_keys_create))
    p = cmds.add_parser("list", help="list keys (never the secrets)")
    p.add_argument("--tenant")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_command(_keys_list))
    p = cmds.add_parser("revoke", help="revoke a key by id")
    p.add_argument("key_id")
    p.add_argument("--tenant", help="refuse unless the key is this tenant's")
    p.set_defaults(handler=_command(_keys_revoke))


async def _keys_create(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import create_key

    if not args.operator and (not args.tenant or not args.scope):
        raise UsageError("give --tenant and at least one --scope (or --operator)")
    tenant = args.tenant or OPERATOR_TENANT
    async with db.write() as s:
        new = await create_key(s, tenant, args.scope, args.label, operator=args.operator)
    print(new.secret)
    print(
        f"key id {new.key['id']} for tenant {new.key['tenant']}, scopes: "
        f"{' '.join(new.key['scopes'])} (store the key now; it is not shown again)",
        file=sys.stderr,
    )
    return 0


async def _keys_list(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import list_keys

    async with db.read() as s:
        rows = await list_keys(s, args.tenant)
    return _rows(
        rows,
        args.json,
        lambda r: (
            f"{r['id']}  {r['tenant']}  [{' '.join(r['scopes'])}]  "
            f"{'revoked' if r['revoked'] else 'active'}  {r['label'] or ''}"
        ),
    )


async def _keys_revoke(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import revoke_key

    async with db.write() as s:
        key = await revoke_key(s, args.key_id, args.tenant)
    print(f"revoked {key['id']} ({key['tenant']})")
    return 0


# --- participants ------------------------------------------------------------------------------


def _register_participants(sub: argparse._SubParsersAction) -> None:
    parts = sub.add_parser("participants", help="receiving participant ids of tenants")
    cmds = parts.add_subparsers(dest="participants_cmd", metavar="CMD")
    p = cmds.add_parser("add", help="route documents for SCHEME:ID to a tenant")
    p.add_argument("--tenant", required=True)
    p.add_argument("participant", metavar="SCHEME:ID")
    p.set_defaults(handler=_command(_participants_add))
    p = cmds.add_parser("list")
    p.add_argument("--tenant")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_command(_participants_list))
    p = cmds.add_parser("remove")
    p.add_argument("participant", metavar="SCHEME:ID")
    p.add_argument("--tenant", help="refuse unless the id is this tenant's")
    p.set_defaults(handler=_command(_participants_remove))


async def _participants_add(db: Any, args: argparse.Namespace) -> int:
    # A composition root like `gateway serve`: the forwarder only writes delivery rows in this
    # transaction; the running server sends them.
    from gateway.admin import add_participant
    from gateway.config import load_settings
    from gateway.forwarding import Forwarder
    from gateway.lifecycle import Cause
    from gateway.lifecycle.vocabulary import ADMIN

    lifecycle = _lifecycle(args)
    async with db.write() as s:
        added = await add_participant(
            s,
            args.tenant,
            args.participant,
            lifecycle=lifecycle,
            forwarding=Forwarder(db, load_settings(args.config).webhooks, lifecycle),
            cause=Cause("participants", role=ADMIN, actor="cli:participants add"),
        )
    row = added.participant
    print(f"{row['id']} -> {row['tenant']}")
    for r in added.routed:
        extra = f" (duplicate of {r.duplicate_of})" if r.duplicate_of else ""
        print(f"routed {r.document_id}: {r.previous} -> {r.status}{extra}", file=sys.stderr)
    if added.routed:
        print(
            f"{len(added.routed)} stranded document(s) routed to {row['tenant']}", file=sys.stderr
        )
    return 0


async def _participants_list(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import list_participants

    async with db.read() as s:
        rows = await list_participants(s, args.tenant)
    return _rows(rows, args.json, lambda r: f"{r['id']}  {r['tenant']}")


async def _participants_remove(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import remove_participant

    async with db.write() as s:
        row = await remove_participant(s, args.participant, args.tenant)
    print(f"removed {row['id']}")
    return 0


# --- webhooks ----------------------------------------------------------------------------------


def _register_webhooks(sub: argparse._SubParsersAction) -> None:
    hooks = sub.add_parser("webhooks", help="per-tenant forwarding webhook")
    cmds = hooks.add_subparsers(dest="webhooks_cmd", metavar="CMD")
    p = cmds.add_parser("set", help="set the URL; prints the HMAC signing secret once")
    p.add_argument("--tenant", required=True)
    p.add_argument("url")
    p.add_argument(
        "--event", action="append", dest="events", help="send only these event types (repeat)"
    )
    p.add_argument("--secret-env", metavar="VAR", help="take the signing secret from this variable")
    p.set_defaults(handler=_command(_webhooks_set))
    p = cmds.add_parser("show", help="URL, event types and whether a secret is set (JSON)")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=_command(_webhooks_show))
    p = cmds.add_parser("clear", help="stop webhook forwarding (the pull inbox stays)")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=_command(_webhooks_clear))
    p = cmds.add_parser("test", help="send a signed test event now and print the answer")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=_command(_webhooks_test))
    p = cmds.add_parser("redeliver", help="queue a delivery again (the server sends it)")
    p.add_argument("delivery", type=int)
    p.add_argument("--tenant", help="refuse unless the delivery is this tenant's")
    p.set_defaults(handler=_command(_webhooks_redeliver))


async def _webhooks_set(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import known_events, set_webhook

    secret = None
    if args.secret_env:
        secret = os.environ.get(args.secret_env)
        if not secret:
            raise UsageError(f"${args.secret_env} is not set")
    async with db.write() as s:
        out = await set_webhook(
            s,
            args.tenant,
            args.url,
            known=known_events(_lifecycle(args)),
            secret=secret,
            events=args.events,
        )
    print(out["secret"])
    events = ", ".join(out["events"]) if out["events"] else "all events"
    print(
        f"webhook for {args.tenant}: {args.url} ({events}); the line above is the HMAC-SHA256 "
        "secret (shown once)",
        file=sys.stderr,
    )
    return 0


async def _webhooks_show(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import get_tenant, webhook_view

    async with db.read() as s:
        _out(webhook_view(await get_tenant(s, args.tenant)))
    return 0


async def _webhooks_clear(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import clear_webhook

    async with db.write() as s:
        await clear_webhook(s, args.tenant)
    print(f"webhook cleared for {args.tenant}")
    return 0


async def _webhooks_test(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import probe_webhook
    from gateway.config import load_settings

    timeout = load_settings(args.config).webhooks.timeout
    result = await probe_webhook(db, args.tenant, timeout=timeout)
    _out(result)
    return 0 if result["delivered"] else 1


async def _webhooks_redeliver(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import redeliver

    async with db.write() as s:
        out = await redeliver(s, args.delivery, args.tenant)
    print(f"delivery {out['delivery']} queued again (was {out['redelivers']}) to {out['url']}")
    return 0
