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


def _admin() -> Any:
    """:mod:`gateway.admin`, imported when a command runs (not for ``gateway --help``)."""
    import gateway.admin

    return gateway.admin


#: ``(gateway.admin, session, args) -> result`` and ``(result, args) -> the line to print``.
Call = Callable[[Any, Any, argparse.Namespace], Awaitable[Any]]
Say = Callable[[Any, argparse.Namespace], str]


def _change(call: Call, say: Say) -> Callable[[argparse.Namespace], int]:
    """A command that runs one management function in a write transaction, prints one line."""

    async def body(db: Any, args: argparse.Namespace) -> int:
        async with db.write() as s:
            out = await call(_admin(), s, args)
        print(say(out, args))
        return 0

    return _command(body)


def _read(call: Call, line: Callable[[dict[str, Any]], str] | None = None) -> Any:
    """A command that reads with one management function: a listing (``line`` per row, or the
    JSON with ``--json``) or, without ``line``, one JSON object."""

    async def body(db: Any, args: argparse.Namespace) -> int:
        async with db.read() as s:
            out = await call(_admin(), s, args)
        if line is None:
            _out(out)
            return 0
        return _rows(out, args.json, line)

    return _command(body)


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
    p.set_defaults(
        handler=_read(
            lambda a, s, args: a.list_tenants(s),
            lambda r: (
                f"{r['name']}  participants={r['participants']}  keys={r['active_keys']}  "
                f"{r['webhook_url'] or '-'}"
            ),
        )
    )
    p = cmds.add_parser("create", help="create a tenant")
    p.add_argument("tenant")
    p.set_defaults(
        handler=_change(
            lambda a, s, args: a.create_tenant(s, args.tenant),
            lambda row, args: f"created tenant {row['name']}",
        )
    )
    p = cmds.add_parser("show", help="a tenant's participants, keys, webhook, settings (JSON)")
    p.add_argument("tenant")
    p.set_defaults(
        handler=_read(lambda a, s, args: a.show_tenant(s, _lifecycle(args), args.tenant))
    )
    p = cmds.add_parser("delete", help="delete a tenant that never had documents")
    p.add_argument("tenant")
    p.set_defaults(
        handler=_change(
            lambda a, s, args: a.delete_tenant(s, args.tenant),
            lambda keys, args: f"deleted tenant {args.tenant} ({len(keys)} key(s) with it)",
        )
    )
    p = cmds.add_parser("set-profile", help="choose the status profile of each direction")
    p.add_argument("tenant")
    p.add_argument("--inbound", metavar="ID", help="profile of purchase documents")
    p.add_argument("--outbound", metavar="ID", help="profile of sales documents")
    p.set_defaults(handler=_command(_tenants_set_profile))
    p = cmds.add_parser("profiles", help="the available status profiles")
    p.set_defaults(handler=_profiles)


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
    p.set_defaults(
        handler=_read(
            lambda a, s, args: a.list_keys(s, args.tenant),
            lambda r: (
                f"{r['id']}  {r['tenant']}  [{' '.join(r['scopes'])}]  "
                f"{'revoked' if r['revoked'] else 'active'}  {r['label'] or ''}"
            ),
        )
    )
    p = cmds.add_parser("revoke", help="revoke a key by id")
    p.add_argument("key_id")
    p.add_argument("--tenant", help="refuse unless the key is this tenant's")
    p.set_defaults(
        handler=_change(
            lambda a, s, args: a.revoke_key(s, args.key_id, args.tenant),
            lambda key, args: f"revoked {key['id']} ({key['tenant']})",
        )
    )


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
    p.set_defaults(
        handler=_read(
            lambda a, s, args: a.list_participants(s, args.tenant),
            lambda r: f"{r['id']}  {r['tenant']}",
        )
    )
    p = cmds.add_parser("remove")
    p.add_argument("participant", metavar="SCHEME:ID")
    p.add_argument("--tenant", help="refuse unless the id is this tenant's")
    p.set_defaults(
        handler=_change(
            lambda a, s, args: a.remove_participant(s, args.participant, args.tenant),
            lambda row, args: f"removed {row['id']}",
        )
    )


async def _participants_add(db: Any, args: argparse.Namespace) -> int:
    # A composition root like `gateway serve`: the forwarder only writes delivery rows in this
    # transaction; the running server sends them.
    from gateway.admin import add_participant
    from gateway.config import load_settings
    from gateway.forwarding import Forwarder
    from gateway.lifecycle import ADMIN, Cause

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
    p.set_defaults(handler=_read(lambda a, s, args: _webhook_view(a, s, args.tenant)))
    p = cmds.add_parser("clear", help="stop webhook forwarding (the pull inbox stays)")
    p.add_argument("--tenant", required=True)
    p.set_defaults(
        handler=_change(
            lambda a, s, args: a.clear_webhook(s, args.tenant),
            lambda _, args: f"webhook cleared for {args.tenant}",
        )
    )
    p = cmds.add_parser("test", help="send a signed test event now and print the answer")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=_command(_webhooks_test))
    p = cmds.add_parser("redeliver", help="queue a delivery again (the server sends it)")
    p.add_argument("delivery", type=int)
    p.add_argument("--tenant", help="refuse unless the delivery is this tenant's")
    p.set_defaults(
        handler=_change(
            lambda a, s, args: a.redeliver(s, args.delivery, args.tenant),
            lambda out, args: (
                f"delivery {out['delivery']} queued again (was {out['redelivers']}) to {out['url']}"
            ),
        )
    )


async def _webhooks_set(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import known_events, set_webhook, vet_destination
    from gateway.config import load_settings

    secret = None
    if args.secret_env:
        secret = os.environ.get(args.secret_env)
        if not secret:
            raise UsageError(f"${args.secret_env} is not set")
    allow_private = load_settings(args.config).webhooks.allow_private_destinations
    await vet_destination(args.url, allow_private=allow_private)
    async with db.write() as s:
        out = await set_webhook(
            s,
            args.tenant,
            args.url,
            known=known_events(_lifecycle(args)),
            secret=secret,
            events=args.events,
            allow_private=allow_private,
        )
    print(out["secret"])
    events = ", ".join(out["events"]) if out["events"] else "all events"
    print(
        f"webhook for {args.tenant}: {args.url} ({events}); the line above is the HMAC-SHA256 "
        "secret (shown once)",
        file=sys.stderr,
    )
    return 0


async def _webhook_view(admin: Any, s: Any, tenant: str) -> dict[str, Any]:
    return admin.webhook_view(await admin.get_tenant(s, tenant))


async def _webhooks_test(db: Any, args: argparse.Namespace) -> int:
    from gateway.admin import probe_webhook
    from gateway.config import load_settings

    hooks = load_settings(args.config).webhooks
    result = await probe_webhook(
        db, args.tenant, timeout=hooks.timeout, allow_private=hooks.allow_private_destinations
    )
    _out(result)
    return 0 if result["delivered"] else 1
